// Tag chips: a tap toggles the tag and saves at once; the server's answer (single-choice groups swap)
// decides which chips are lit.
(function () {
  "use strict";
  const T = window.scrmText || {};
  document.querySelectorAll(".tag-picker").forEach((picker) => {
    const status = picker.querySelector('[data-role="tag-status"]');
    picker.addEventListener("click", async (e) => {
      const chip = e.target.closest(".chip-btn");
      if (!chip || chip.disabled) return;
      const on = !chip.classList.contains("on");
      chip.disabled = true;
      if (status) status.textContent = T.saving || "";
      try {
        const data = await window.scrm.api(picker.dataset.toggleUrl, { method: "POST", body: { tag_id: Number(chip.dataset.tag), on } });
        const ids = new Set(data.tag_ids);
        picker.querySelectorAll(".chip-btn").forEach((c) => {
          const lit = ids.has(Number(c.dataset.tag));
          c.classList.toggle("on", lit);
          c.setAttribute("aria-pressed", lit ? "true" : "false");
        });
        if (status) status.textContent = T.saved || "";
      } catch (err) {
        if (status) status.textContent = (T.failed || "") + err.message;
      } finally {
        chip.disabled = false;
      }
    });
  });
})();
