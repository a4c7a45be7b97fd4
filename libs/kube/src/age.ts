/** How long ago, in kubectl's short form: 45s, 12m, 5h, 3d, 2y. */
export function humanAge(timestamp: string | undefined, now = Date.now()): string {
  if (!timestamp) return "<unknown>";
  const seconds = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  return days < 730 ? `${days}d` : `${Math.floor(days / 365)}y`;
}
