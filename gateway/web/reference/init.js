// The browsable reference of the gateway's Connect JSON API: Swagger UI over the document the same
// gateway serves at /openapi.json. "Try it out" calls this origin (the document's server is "/"),
// so it needs no CORS; a token from Login goes in with "Authorize".
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#reference",
  deepLinking: true,
  // Connect calls are POSTs; nothing else to try.
  supportedSubmitMethods: ["post"],
  // The token stays in this tab's storage across reloads, as the web client keeps its own.
  persistAuthorization: true,
  defaultModelsExpandDepth: 0,
  docExpansion: "list",
  tryItOutEnabled: false,
  displayRequestDuration: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
