// Starts Swagger UI on /docs (api/openapi.py). A file, not an inline script: the CSP allows no inline code.
"use strict";
window.addEventListener("load", function () {
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null, // no call to validator.swagger.io
    tryItOutEnabled: false,
  });
});
