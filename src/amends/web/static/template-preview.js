// The message template editor: the HTML part of the draft is rendered into a sandboxed frame
// (posted to it with the form), when the page opens and each time the text preview updates.
(function () {
  function renderHtml() {
    var button = document.getElementById("preview-html-button");
    if (button && button.form) { button.form.requestSubmit(button); }
  }
  document.addEventListener("DOMContentLoaded", renderHtml);
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "preview") { renderHtml(); }
  });
})();
