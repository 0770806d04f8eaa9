// assetgate console: progressive enhancement only (every page works without it).
// Copy buttons copy the input they name; forms with data-confirm ask first.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var input = document.getElementById(button.getAttribute("data-copy"));
  if (!input) return;
  input.select();
  var done = function () {
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(input.value).then(done);
  } else {
    document.execCommand("copy");
    done();
  }
});
// "Go back" links (data-back) return to the page before, when there is one.
document.addEventListener("click", function (event) {
  var back = event.target.closest("[data-back]");
  if (!back || window.history.length < 2) return;
  event.preventDefault();
  window.history.back();
});
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});
// Upload forms (data-upload) send with a progress bar; without script they
// post as usual and the page that follows says how it went.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.hasAttribute("data-upload") || event.defaultPrevented) return;
  if (!window.XMLHttpRequest || !window.FormData) return;
  event.preventDefault();
  var bar = document.getElementById("upload-bar");
  var text = document.getElementById("upload-text");
  var box = document.getElementById("upload-progress");
  var error = document.getElementById("upload-error");
  var button = document.getElementById("upload-button");
  var mib = function (n) { return (n / 1048576).toFixed(1) + " MiB"; };
  var fail = function (message) {
    error.textContent = message;
    error.hidden = false;
    box.hidden = true;
    button.disabled = false;
  };
  error.hidden = true;
  box.hidden = false;
  button.disabled = true;
  bar.value = 0;
  text.textContent = "Starting the upload…";
  var xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.upload.addEventListener("progress", function (e) {
    if (!e.lengthComputable) return;
    var percent = Math.floor((e.loaded / e.total) * 100);
    bar.value = percent;
    text.textContent = mib(e.loaded) + " of " + mib(e.total) + " (" + percent + " %)";
    if (e.loaded === e.total) text.textContent = "Checking and storing the file…";
  });
  xhr.addEventListener("load", function () {
    if (xhr.status < 400) {
      window.location.href = xhr.responseURL || "/admin/assets";
      return;
    }
    var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var message = page.querySelector(".card p");
    fail("The upload was refused: " + (message ? message.textContent : "error " + xhr.status) +
      " Nothing was added.");
  });
  xhr.addEventListener("error", function () {
    fail("The upload broke off (the connection was lost). Nothing was added; try again.");
  });
  xhr.send(new FormData(form));
});
