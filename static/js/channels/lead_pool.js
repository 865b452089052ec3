// 公海: the one-tap copy of a lead's phone. The number is fetched only on the tap (the server writes the
// audit log entry) and put on the clipboard; the page never holds it otherwise.
(function () {
  "use strict";
  document.addEventListener("click", async (e) => {
    const button = e.target.closest("button[data-copy-phone]");
    if (!button) return;
    e.preventDefault();
    const token = document.querySelector("input[name=csrfmiddlewaretoken]");
    const response = await fetch(button.dataset.copyPhone, {
      method: "POST",
      headers: { "X-CSRFToken": token ? token.value : "" },
      credentials: "same-origin",
    });
    const body = await response.json();
    if (!response.ok) { window.alert(body.detail); return; }
    try {
      await navigator.clipboard.writeText(body.phone);
      button.textContent = button.dataset.copied;
    } catch (err) {
      window.prompt(button.dataset.manual, body.phone);
    }
  });
})();
