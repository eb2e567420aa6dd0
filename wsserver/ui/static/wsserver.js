// wsserver's web page: the little it does in the browser, from this file only (the page's
// Content-Security-Policy allows no inline script). Every page works without it, except copying.
(function () {
  "use strict";

  // htmx requests carry the page's CSRF token (flask-wtf reads X-CSRFToken).
  document.addEventListener("htmx:configRequest", function (event) {
    var token = document.querySelector('meta[name="csrf-token"]');
    if (token) { event.detail.headers["X-CSRFToken"] = token.content; }
  });

  function copy(button) {
    var field = document.getElementById(button.dataset.copyFrom);
    var status = button.parentElement.querySelector(".copy-status");
    var say = function (text) { if (status) { status.textContent = text; } };
    var fallback = function () {  // no Clipboard API (e.g. plain http on another host): select and copy
      field.focus();
      field.select();
      say(document.execCommand && document.execCommand("copy") ? "Copied." : "Selected: press Ctrl+C to copy.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { say("Copied."); }, fallback);
    } else {
      fallback();
    }
  }

  function preview(input) {
    var image = document.getElementById(input.dataset.preview);
    var file = input.files && input.files[0];
    if (image.src && image.src.indexOf("blob:") === 0) { URL.revokeObjectURL(image.src); }
    if (file && file.type.indexOf("image/") === 0) {
      image.src = URL.createObjectURL(file);
      image.hidden = false;
    } else {
      image.removeAttribute("src");
      image.hidden = true;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-copy-from]").forEach(function (button) {
      button.hidden = false;  // shown only where it works
      button.addEventListener("click", function () { copy(button); });
    });
    document.querySelectorAll("input[type=file][data-preview]").forEach(function (input) {
      input.addEventListener("change", function () { preview(input); });
    });
  });
})();
