// A `button.copy[data-copy]` copies the text of the field it names (in parts htmx swaps in too).
document.addEventListener("click", function (event) {
  var button = event.target.closest("button.copy");
  if (!button) return;
  var text = document.getElementById(button.dataset.copy);
  text.select();
  (navigator.clipboard ? navigator.clipboard.writeText(text.value) : Promise.reject())
    .then(function () { button.textContent = "Copied"; },
          function () { document.execCommand("copy"); button.textContent = "Copied"; });
});
