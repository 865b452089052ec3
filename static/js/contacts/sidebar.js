// Inside WeCom the JS-SDK tells us who the chat is with; we reload with ?external_userid=…
// Outside WeCom (an ordinary browser) nothing happens and the search box is the way in.
(function () {
  "use strict";
  const params = new URLSearchParams(window.location.search);
  if (params.has("external_userid") || params.has("customer") || params.has("q")) return;
  const wx = window.wx;
  if (!wx || typeof wx.invoke !== "function") return;
  wx.invoke("getCurExternalContact", {}, (res) => {
    if (res && res.err_msg === "getCurExternalContact:ok" && res.userId) {
      window.location.search = "?external_userid=" + encodeURIComponent(res.userId);
    }
  });
})();
