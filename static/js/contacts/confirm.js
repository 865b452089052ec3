// Forms with data-confirm ask first; a form with a "confirm" field gets "yes" once the user agrees
// (the server refuses the action without it, so a stray POST never opts anyone out).
(function () {
  "use strict";
  document.addEventListener("submit", (e) => {
    const form = e.target.closest("form[data-confirm]");
    if (!form) return;
    if (!window.confirm(form.dataset.confirm)) { e.preventDefault(); return; }
    if (form.elements.confirm) form.elements.confirm.value = "yes";
  });
})();
