/* Amends in the Freshdesk ticket sidebar.

   The app reads the ticket, the agent and the requester from the page (the data method),
   asks Amends for a panel through its request template `amendsSession` (Freshworks' proxy
   adds the secret header from a secure installation parameter: this script never sees it),
   then frames the one-use link Amends answers. Each time the app is shown again it asks for
   a fresh panel, so the ticket in front of the agent is always the panel's.

   Data method: https://developers.freshworks.com/docs/app-sdk/v3.0/support_ticket/front-end-apps/data-method/
   Request method: https://developers.freshworks.com/docs/app-sdk/v3.0/support_ticket/advanced-interfaces/request-method/ */
"use strict";

var client;

// The app client loads `async`: it is certainly there once the page has loaded.
window.addEventListener("load", init);

async function init() {
  client = await app.initialized();
  client.events.on("app.activated", openPanel);
}

async function read(name) {
  try {
    return (await client.data.get(name))[name] || {};
  } catch (error) {
    return {};
  }
}

function nonce() {
  var bytes = new Uint8Array(18);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
}

function say(text) {
  var status = document.getElementById("amends-status");
  status.textContent = text;
  status.hidden = false;
}

async function openPanel() {
  var frame = document.getElementById("amends-panel");
  say("Opening Amends…");
  frame.hidden = true;
  var ticket = await read("ticket");
  var agent = await read("loggedInUser");
  var requester = await read("requester");
  if (!requester.email && !requester.mobile && !requester.phone) {
    requester = await read("contact");
  }
  var body = {
    agent_email: (agent.contact || {}).email || agent.email || "",
    ticket: {
      id: String(ticket.id || ""),
      subject: ticket.subject || "",
      priority: ticket.priority == null ? null : String(ticket.priority),
      status: ticket.status == null ? null : String(ticket.status),
      tags: Array.isArray(ticket.tags) ? ticket.tags.map(String) : [],
      requester: {
        id: requester.id == null ? null : String(requester.id),
        name: requester.name || null,
        email: requester.email || null,
        phone: requester.phone || null,
        mobile: requester.mobile || null,
        unique_external_id: requester.unique_external_id || null
      }
    },
    timestamp: Math.floor(Date.now() / 1000),
    nonce: nonce()
  };
  try {
    var answer = await client.request.invokeTemplate("amendsSession", {
      body: JSON.stringify(body)
    });
    var panel = JSON.parse(answer.response);
    frame.src = panel.panel_url;
    frame.hidden = false;
    document.getElementById("amends-status").hidden = true;
    if (client.instance && client.instance.resize) {
      client.instance.resize({ height: "700px" });
    }
  } catch (error) {
    var detail = "";
    try {
      detail = JSON.parse(error.response).detail;
    } catch (ignored) {
      detail = "";
    }
    say(detail || "Amends could not be reached: reopen the ticket, or ask your Amends administrator.");
  }
}
