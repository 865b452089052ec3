// The redeem page inside WeCom: a 扫码 button that opens WeCom's scanner (JS-SDK scanQRCode) and
// puts the scanned coupon code in the input. In an ordinary browser the button stays hidden: staff type.
(function () {
  "use strict";
  var script = document.currentScript;
  var button = document.getElementById("scan-code");
  var input = document.querySelector(".redeem-form input[name=code]");
  var insideWeCom = /wxwork/i.test(navigator.userAgent);
  if (!button || !input || !insideWeCom || !window.ww) {
    return;
  }
  var registered = null;
  function signatures(url) {
    var endpoint = script.dataset.signatureUrl + "?url=" + encodeURIComponent(url);
    return fetch(endpoint, { credentials: "same-origin" }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          throw new Error(body.error || response.status);
        }
        return body;
      });
    });
  }
  function register() {
    if (!registered) {
      var page = window.location.href.split("#")[0];
      registered = signatures(page).then(function (cfg) {
        window.ww.register({
          corpId: cfg.corpId,
          agentId: cfg.agentId,
          jsApiList: cfg.jsApiList,
          getConfigSignature: function () { return cfg.config; },
          getAgentConfigSignature: function () { return cfg.agentConfig; },
        });
      });
    }
    return registered;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    register()
      .then(function () {
        return window.ww.scanQRCode({ needResult: true, scanType: ["qrCode", "barCode"] });
      })
      .then(function (result) {
        var text = String((result && result.resultStr) || "");
        // A barcode scan comes back as "FORMAT,CODE".
        input.value = text.indexOf(",") >= 0 ? text.split(",").pop() : text;
        input.focus();
      })
      .catch(function (error) {
        registered = null;
        var note = document.getElementById("scan-error");
        if (note) {
          note.textContent = script.dataset.textFailed.replace("%s", (error && (error.errMsg || error.message)) || error);
          note.hidden = false;
        }
      });
  });
})();
