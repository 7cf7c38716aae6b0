// The page's HTML shell and stylesheet. The HTML carries no data and no inline script or
// style (the Content-Security-Policy allows only /ui/app.js and /ui/style.css); the script
// builds everything with DOM calls and textContent, never with HTML strings.

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>callguard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/style.css">
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<header class="top">
  <span class="brand">callguard</span>
  <nav id="nav" aria-label="Main"></nav>
  <span id="who" class="who"></span>
</header>
<main id="main" tabindex="-1"><p>Loading…</p></main>
<div id="status" class="status" role="status" aria-live="polite"></div>
</body>
</html>
`;

export const STYLE_CSS = `
:root { --fg: #1a1a1a; --muted: #4a4a4a; --bg: #ffffff; --line: #c8c8c8; --accent: #0b4f9c;
  --mark: #ffe08a; --bad: #9b1c1c; --ok: #1e6b2f; font-family: system-ui, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.4; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f4a100; outline-offset: 2px; }
.top { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .6rem 1rem;
  background: #10243e; color: #fff; }
.top a, .top button { color: #fff; }
.brand { font-weight: 700; }
nav { display: flex; gap: 1rem; flex: 1; }
.who { display: flex; gap: .5rem; align-items: center; }
main { padding: 1rem; max-width: 1400px; margin: 0 auto; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; }
form.filters { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr));
  gap: .6rem 1rem; align-items: end; margin-bottom: 1rem; }
label { display: flex; flex-direction: column; font-size: .9rem; color: var(--muted); gap: .2rem; }
input, select, textarea, button { font: inherit; color: var(--fg); }
input, select, textarea { padding: .35rem .4rem; border: 1px solid #767676; border-radius: 3px;
  background: #fff; }
button { padding: .4rem .8rem; border-radius: 3px; border: 1px solid #0b4f9c;
  background: #0b4f9c; color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: #0b4f9c; }
button.danger { background: var(--bad); border-color: var(--bad); }
.top button { background: transparent; border-color: #fff; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: #eef2f7; }
td.mono, pre, code { font-family: ui-monospace, monospace; font-size: .85rem; }
pre { white-space: pre-wrap; word-break: break-all; background: #f6f6f6; padding: .6rem;
  border: 1px solid var(--line); border-radius: 3px; }
mark.masked { background: var(--mark); color: #000; outline: 1px solid #b58900; }
mark.found { background: transparent; color: inherit; text-decoration: underline dotted 2px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; }
.card { border: 1px solid var(--line); border-radius: 4px; padding: .8rem; margin-bottom: 1rem; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; }
.status { position: fixed; bottom: .5rem; right: .5rem; max-width: 90vw; }
.status:not(:empty) { background: #10243e; color: #fff; padding: .5rem .8rem; border-radius: 3px; }
.error { color: var(--bad); }
.chart { width: 100%; height: 140px; border: 1px solid var(--line); }
.legend { display: flex; flex-wrap: wrap; gap: .8rem; font-size: .85rem; }
.sw { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: middle; }
.d-allowed { fill: #1e6b2f; background: #1e6b2f; } .d-modified { fill: #0b4f9c; background: #0b4f9c; }
.d-public { fill: #6b6b6b; background: #6b6b6b; } .d-blocked { fill: #9b1c1c; background: #9b1c1c; }
.d-held { fill: #b35c00; background: #b35c00; } .d-denied { fill: #6a1b9a; background: #6a1b9a; }
.d-error { fill: #000; background: #000; } .d-aborted { fill: #999; background: #999; }
.d-overloaded { fill: #c9a100; background: #c9a100; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; }
a.button { display: inline-block; padding: .5rem 1rem; background: #0b4f9c; color: #fff;
  border-radius: 3px; text-decoration: none; }
@media (max-width: 700px) {
  main { padding: .5rem; }
  dl.facts { grid-template-columns: 1fr; }
  td, th { padding: .3rem; font-size: .85rem; }
}
`;
