"""The report's stylesheet, inlined into the HTML: system fonts only, print rules included."""

CSS = """
:root {
  --ink: #1a202c; --muted: #5a6475; --faint: #8a94a6; --line: #e2e8f0; --row: #eef1f5;
  --bg: #f4f6f9; --card: #fff; --accent: #2b6cb0;
  --neg: #d64545; --neu: #a7b1c2; --pos: #2f9e6e;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Noto Sans", "Liberation Sans", sans-serif, "Apple Color Emoji", "Segoe UI Emoji",
    "Noto Color Emoji";
}
main { max-width: 1180px; margin: 0 auto; padding: 28px 24px 40px; }
header.top { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 8px 24px;
  align-items: flex-end; border-bottom: 3px solid var(--accent); padding-bottom: 14px; }
header.top h1 { margin: 0; font-size: 24px; font-weight: 650; letter-spacing: -0.01em; }
header.top .period { margin: 4px 0 0; color: var(--muted); font-size: 14px; }
header.top .meta { color: var(--faint); font-size: 12px; text-align: right; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(165px, 1fr)); gap: 12px;
  margin: 18px 0 4px; }
.kpi { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 12px 14px; }
.kpi .label { color: var(--muted); font-size: 11px; font-weight: 600; letter-spacing: .05em;
  text-transform: uppercase; }
.kpi .value { font-size: 28px; font-weight: 650; line-height: 1.2; margin-top: 4px;
  font-variant-numeric: tabular-nums; }
.kpi .note { color: var(--faint); font-size: 12px; margin-top: 2px; }
.kpi .note.up-good, .kpi .note.down-good { color: var(--pos); }
.kpi .note.up-bad, .kpi .note.down-bad { color: var(--neg); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 16px;
  margin-top: 16px; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 18px; min-width: 0; break-inside: avoid; page-break-inside: avoid; }
section.wide { grid-column: 1 / -1; }
section h2 { margin: 0; font-size: 16px; font-weight: 650; }
section .sub { margin: 2px 0 12px; color: var(--muted); font-size: 12.5px; }
section h3 { margin: 14px 0 6px; font-size: 13px; color: var(--muted); font-weight: 600; }
svg.chart { display: block; width: 100%; height: auto; overflow: visible;
  font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
.legend { display: flex; gap: 16px; flex-wrap: wrap; color: var(--muted); font-size: 12px;
  margin: 0 0 8px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 5px; vertical-align: -1px; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th { text-align: left; color: var(--muted); font-size: 11.5px; font-weight: 600;
  border-bottom: 1px solid var(--line); padding: 6px 8px; white-space: nowrap; }
td { padding: 6px 8px; border-bottom: 1px solid var(--row); vertical-align: top; }
tr:last-child td { border-bottom: 0; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.text { width: 55%; overflow-wrap: anywhere; color: #2d3748; }
small.muted { color: var(--muted); font-size: 11.5px; white-space: nowrap; }
td.when { white-space: nowrap; color: var(--muted); }
.bar { position: relative; min-width: 90px; }
.bar span { display: block; height: 8px; border-radius: 2px; background: var(--accent);
  opacity: .8; margin-top: 5px; }
.nodata { margin: 6px 0 0; padding: 22px 12px; text-align: center; color: var(--faint);
  background: #f8fafc; border: 1px dashed var(--line); border-radius: 6px; font-style: italic; }
.figures { display: flex; gap: 28px; flex-wrap: wrap; margin: 0 0 10px; }
.figures div { font-size: 12px; color: var(--muted); }
.figures b { display: block; font-size: 22px; color: var(--ink); font-weight: 650;
  font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: 11px;
  font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
.sev-critical { background: #fde8e8; color: #9b1c1c; }
.sev-warning { background: #fef3c7; color: #92400e; }
.sev-info { background: #e0ecfa; color: #1e4e8c; }
.neg { color: var(--neg); } .pos { color: var(--pos); }
footer { margin-top: 22px; color: var(--faint); font-size: 12px; }
@page { size: A4; margin: 12mm; }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { background: #fff; font-size: 11.5px; }
  main { max-width: none; padding: 0; }
  .grid { display: block; margin: 0; }
  section.card { margin-top: 10px; border-color: #d5dbe3; }
  .kpi .value { font-size: 22px; }
}
@media (max-width: 560px) {
  .grid { grid-template-columns: 1fr; }
  main { padding: 16px 12px; }
}
"""
