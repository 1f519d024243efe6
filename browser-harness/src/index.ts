/**
 * @vae/browser-harness: serve files on 127.0.0.1, launch Debian's headless Chromium, open a
 * page and wait until it is ready, close. Every package that drives a browser uses this.
 */
export { CHROMIUM_PATH, chromiumMissing, launchChromium, openPage, pageErrorLine, type LaunchOptions, type OpenedPage, type OpenPageOptions } from './chromium.js';
export { serveStatic, sendFile, send, MIME, type StaticServer, type ServeOptions, type Route } from './server.js';
