// The composer: Enter sends, Shift+Enter breaks the line; a blank message is not sent.
(function () {
  var form = document.getElementById("composer");
  if (!form) return;
  var box = form.querySelector("textarea");
  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (box.value.trim()) form.requestSubmit();
    }
  });
  form.addEventListener("htmx:wsConfigSend", function (event) {
    if (!box.value.trim()) event.preventDefault();
  });
  // Keep the newest message in view while a reply streams in.
  new MutationObserver(function () {
    var main = document.scrollingElement;
    main.scrollTop = main.scrollHeight;
  }).observe(document.getElementById("chat"), { childList: true, subtree: true, characterData: true });
})();
