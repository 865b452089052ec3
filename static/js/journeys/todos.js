// To-do lists (sidebar and console): "发送" hands a sendable to-do's text (a journey task, a referral
// reward) to WeCom through the JS-SDK (shareToExternalContact with the customer's external_userid, else
// sendChatMessage into the current chat), then marks the to-do done; outside WeCom it copies the text
// for the member to paste.
(function () {
  "use strict";
  var script = document.currentScript;
  var insideWeCom = /wxwork/i.test(navigator.userAgent) && !!window.ww;
  var note = document.querySelector("[data-testid=todo-note]");
  function say(text) {
    if (note) {
      note.textContent = text;
      note.hidden = false;
    }
  }
  var registered = null;
  function register() {
    if (!registered) {
      var page = window.location.href.split("#")[0];
      registered = fetch(script.dataset.signatureUrl + "?url=" + encodeURIComponent(page), { credentials: "same-origin" })
        .then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok) throw new Error(body.error || response.status);
            return body;
          });
        })
        .then(function (cfg) {
          window.ww.register({
            corpId: cfg.corpId,
            agentId: cfg.agentId,
            jsApiList: cfg.jsApiList,
            getConfigSignature: function () { return cfg.config; },
            getAgentConfigSignature: function () { return cfg.agentConfig; },
          });
          return cfg;
        });
    }
    return registered;
  }
  function complete(form) {
    return fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || response.status);
        return body;
      });
    });
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-send]");
    if (!button) return;
    e.preventDefault();
    var item = button.closest("[data-todo]");
    var form = item.querySelector("[data-done-form]");
    var text = button.dataset.text;
    if (!insideWeCom) {
      if (navigator.clipboard) navigator.clipboard.writeText(text).catch(function () {});
      say(script.dataset.textCopied);
      return;
    }
    button.disabled = true;
    register()
      .then(function () {
        if (button.dataset.ext) {
          return window.ww.shareToExternalContact({ externalUserIds: [button.dataset.ext], text: { content: text } });
        }
        return window.ww.sendChatMessage({ msgtype: "text", text: { content: text } });
      })
      .then(function () { return complete(form); })
      .then(function () {
        item.classList.add("done");
        item.querySelector("[data-state]").textContent = script.dataset.textSent;
        item.querySelector(".todo-actions").remove();
      })
      .catch(function (error) {
        button.disabled = false;
        say(script.dataset.textFailed.replace("%s", (error && (error.errMsg || error.message)) || error));
      });
  });
})();
