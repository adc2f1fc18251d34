// The time left before each `.countdown[data-expires]` runs out, written out and kept current.
for (const el of document.querySelectorAll(".countdown")) {
  const end = new Date(el.dataset.expires);
  const tick = () => {
    const ms = end - new Date();
    if (ms <= 0) { el.textContent = "(expired)"; return; }
    const d = Math.floor(ms / 864e5), h = Math.floor(ms % 864e5 / 36e5);
    el.textContent = d > 0 ? `(${d} day${d > 1 ? "s" : ""} ${h} h left)` : `(${h} h ${Math.floor(ms % 36e5 / 6e4)} min left)`;
  };
  tick(); setInterval(tick, 60000);
}
