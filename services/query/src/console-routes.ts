import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CONSOLE_DIRECTORY } from "@atoll/console";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";

/**
 * The console may run only its own scripts and talk only to this origin: a value that slipped
 * into a page (an object's name, a label) cannot run, and a token cannot be sent elsewhere.
 */
const CONSOLE_HEADERS = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/**
 * /ui/: the web console. Its bundle is served from /ui/assets/; every other path under /ui/ is one
 * of its pages, which the page's own router draws, so each view has a URL that can be shared.
 */
export function consoleRoutes(app: FastifyInstance): void {
  const index = readFileSync(join(CONSOLE_DIRECTORY, "index.html"));
  const page = (reply: FastifyReply) =>
    reply
      .headers({ ...CONSOLE_HEADERS, "cache-control": "no-cache" })
      .type("text/html; charset=utf-8")
      .send(index);
  void app.register(fastifyStatic, {
    root: join(CONSOLE_DIRECTORY, "assets"),
    prefix: "/ui/assets/",
    decorateReply: false,
    index: false,
    setHeaders: (response) => {
      for (const [name, value] of Object.entries(CONSOLE_HEADERS)) response.setHeader(name, value);
    },
  });
  app.get("/ui", (_request, reply) => reply.redirect("/ui/"));
  app.get("/ui/", (_request, reply) => page(reply));
  app.get("/ui/*", (_request, reply) => page(reply));
}
