// The time left before each `.countdown[data-expires]` runs out, written out and kept current.
// The wording comes from the page, in its language: `data-days-one` / `data-days-other` (chosen
// by the language's plural rules), `data-hours` and `data-expired`, with {days}, {hours} and
// {minutes} put in; English when the page gives none.
const plurals = new Intl.PluralRules(document.documentElement.lang || "en");
const numbers = new Intl.NumberFormat(document.documentElement.lang || "en");
const fill = (text, values) =>
  text.replace(/\{(\w+)\}/g, (whole, name) => name in values ? numbers.format(values[name]) : whole);

for (const el of document.querySelectorAll(".countdown")) {
  const end = new Date(el.dataset.expires);
  const words = {
    one: el.dataset.daysOne || "({days} day {hours} h left)",
    other: el.dataset.daysOther || "({days} days {hours} h left)",
    hours: el.dataset.hours || "({hours} h {minutes} min left)",
    expired: el.dataset.expired || "(expired)",
  };
  const tick = () => {
    const ms = end - new Date();
    if (ms <= 0) { el.textContent = words.expired; return; }
    const days = Math.floor(ms / 864e5), hours = Math.floor(ms % 864e5 / 36e5);
    const minutes = Math.floor(ms % 36e5 / 6e4);
    el.textContent = days > 0
      ? fill(plurals.select(days) === "one" ? words.one : words.other, { days, hours })
      : fill(words.hours, { hours, minutes });
  };
  tick(); setInterval(tick, 60000);
}
