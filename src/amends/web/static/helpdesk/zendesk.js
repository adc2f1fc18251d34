/* The Zendesk panel's first step: ask Zendesk which ticket the sidebar is open on, post its id
   to Amends (with the panel's token in the X-Amends-Panel header) and show the panel it answers.

   Zendesk's signed load names the agent, not the ticket; the ticket's id comes from Zendesk's
   page through the Zendesk Apps Framework. With the ZAF SDK loaded (window.ZAFClient, from
   static.zdassets.com), its client is used: ZAFClient.init() reads `origin` and `app_guid` from
   the page's address, which Zendesk puts in the sidebar's URL. Without it (the SDK did not
   load), the same messages the SDK exchanges with Zendesk's page are sent here, to the parent
   frame at `origin` only, and answers are taken only from that frame:
     -> {"key": "iframe.handshake", "message": {"version": "2.0"}, "appGuid", "instanceGuid"}
     <- {"key": "zaf.app.registered", "message": {"context": ..., "metadata": ...}}
     -> {"id": 1, "request": "get", "params": ["ticket.id"], "appGuid", "instanceGuid"}
     <- {"id": 1, "result": {"ticket.id": 35436}}
   (zendesk/zendesk_app_framework_sdk, lib/client.js: postMessage, wrappedPostMessage,
   messageHandler). The tests' host page answers these as Zendesk's page does. The ticket's
   requester, priority and tags are then read by Amends from Zendesk's API, not from here. */
(function () {
  "use strict";
  var root = document.querySelector("[data-zendesk-panel]");
  if (!root) { return; }
  var origin = root.getAttribute("data-origin");
  var appGuid = root.getAttribute("data-app-guid");
  var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
  var TIMEOUT = 10000;

  function messagesClient() {
    var ready = false, waiting = [], pending = {}, next = 0;
    function post(message) { window.parent.postMessage(JSON.stringify(message), origin); }
    function send(message) { if (ready) { post(message); } else { waiting.push(message); } }
    window.addEventListener("message", function (event) {
      if (event.origin !== origin || event.source !== window.parent) { return; }
      var data = event.data;
      if (typeof data === "string") {
        try { data = JSON.parse(data); } catch (e) { return; }
      }
      if (!data || typeof data !== "object") { return; }
      if (data.id && pending[data.id]) {
        var promise = pending[data.id];
        delete pending[data.id];
        if (data.error) { promise.reject(data.error); } else { promise.resolve(data.result); }
      } else if (data.key === "zaf.app.registered" && !ready) {
        ready = true;
        waiting.splice(0).forEach(post);
      }
    });
    post({key: "iframe.handshake", message: {version: "2.0"}, appGuid: appGuid,
          instanceGuid: appGuid});
    function request(name, params, answered) {
      var id = ++next;
      var message = {id: id, request: name, params: params, appGuid: appGuid,
                     instanceGuid: appGuid};
      if (!answered) { send(message); return Promise.resolve(null); }
      return new Promise(function (resolve, reject) {
        pending[id] = {resolve: resolve, reject: reject};
        send(message);
        setTimeout(function () {
          if (pending[id]) { delete pending[id]; reject(new Error("Zendesk did not answer")); }
        }, TIMEOUT);
      });
    }
    return {
      get: function (path) { return request("get", [path], true); },
      invoke: function (name, value) {
        var params = {};
        params[name] = [value];
        return request("invoke", params, false);
      }
    };
  }

  if (!origin) { failed(null); return; }
  var client = (window.ZAFClient && window.ZAFClient.init()) || messagesClient();

  function fit() {
    var height = Math.max(document.documentElement.scrollHeight, 200);
    Promise.resolve(client.invoke("resize", {width: "100%", height: height + "px"}))
      .catch(function () { /* a sidebar keeps its size */ });
  }

  function failed(detail) {
    root.querySelector("[data-zendesk-waiting]").hidden = true;
    var alert = root.querySelector("[data-zendesk-failed]");
    if (detail) { alert.textContent = detail; }
    alert.hidden = false;
  }

  function show(response) {
    return response.text().then(function (html) {
      if (!response.ok) {
        var refused = new DOMParser().parseFromString(html, "text/html")
          .querySelector("[data-refused] [role=alert]");
        failed(refused ? refused.textContent : null);
        return;
      }
      root.outerHTML = html;
      var panel = document.getElementById("panel");
      if (panel && window.htmx) { window.htmx.process(panel); }
      fit();
    });
  }

  client.get("ticket.id").then(function (data) {
    var id = data && data["ticket.id"];
    if (!id) { throw new Error("no ticket"); }
    var body = new URLSearchParams();
    body.set("ticket_id", String(id));
    var sent = {"HX-Request": "true"};
    Object.keys(headers).forEach(function (name) { sent[name] = headers[name]; });
    return fetch("/helpdesk/panel/ticket", {method: "POST", headers: sent, body: body,
                                            credentials: "omit"});
  }).then(show).catch(function () { failed(null); });
  document.body.addEventListener("htmx:afterSwap", fit);
})();
