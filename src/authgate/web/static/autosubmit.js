// Sends a form marked data-autosubmit as soon as the page loads (sign-out at the provider).
// Without JavaScript the person presses its button instead.
"use strict";
document.querySelectorAll("form[data-autosubmit]").forEach((form) => form.submit());
