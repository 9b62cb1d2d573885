// Copy buttons: <button data-copy="ELEMENT-ID">. The page works without it.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) return;
  var text = "value" in source ? source.value : source.textContent;
  navigator.clipboard.writeText(text).then(function () {
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = "Copy"; }, 2000);
  });
});
