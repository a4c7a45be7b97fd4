import { fileURLToPath } from "node:url";

/**
 * Where the built console is: index.html, and the bundle under assets/. The query service serves
 * it at /ui/; it holds no data, which it reads from the API with the signed-in user's token.
 */
export const CONSOLE_DIRECTORY = fileURLToPath(new URL("../www/", import.meta.url));
