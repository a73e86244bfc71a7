// The timer function every JavaScript host (browsers, Node.js, workers) provides. Declared here so
// the browser-safe core can yield to the event loop without depending on DOM or Node typings.
declare function setTimeout(callback: () => void, ms?: number): unknown;
