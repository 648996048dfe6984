// Block Kit's data blocks as the local page shows them: `table` as an HTML table, and
// `data_visualization` as an inline SVG drawn from the block's own data (no external script).
"use strict";

const PALETTE = ["#1264a3", "#2eb67d", "#ecb22e", "#e01e5a", "#36c5f0", "#7c3085"];
const escapeText = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function richText(items) {
  return (items || []).map((item) => {
    const inner = typeof item.text === "string" ? escapeText(item.text) : richText(item.elements);
    const style = item.style || {};
    const bold = style.bold ? `<b>${inner}</b>` : inner;
    return style.italic ? `<i>${bold}</i>` : bold;
  }).join("");
}

function cellHtml(cell) {
  if (!cell) return "";
  if (cell.type === "raw_text") return escapeText(cell.text);
  if (cell.type === "rich_text") return richText(cell.elements);
  return escapeText(cell.text || "");
}

function tableHtml(block) {
  const settings = block.column_settings || [];
  const align = (i) => (settings[i] && settings[i].align) || "left";
  const rows = (block.rows || []).map((row, r) => {
    const tag = r === 0 ? "th" : "td";
    const cells = row.map((cell, i) => `<${tag} style="text-align:${align(i)}">${cellHtml(cell)}</${tag}>`);
    return `<tr>${cells.join("")}</tr>`;
  });
  return `<table class="b-table" data-testid="table">${rows.join("")}</table>`;
}

function legend(names) {
  return `<div class="b-legend">${names.map((n, i) =>
    `<span><i style="background:${PALETTE[i % PALETTE.length]}"></i>${escapeText(n)}</span>`).join("")}</div>`;
}

function pieSvg(segments) {
  const total = segments.reduce((sum, s) => sum + Math.max(0, s.value), 0) || 1;
  const cx = 110, cy = 110, r = 95;
  let angle = -Math.PI / 2;
  const slices = segments.map((s, i) => {
    const share = Math.max(0, s.value) / total, color = PALETTE[i % PALETTE.length];
    const title = `<title>${escapeText(s.label)}: ${s.value}</title>`;
    if (share >= 0.9999) return `<circle data-testid="pie-slice" cx="${cx}" cy="${cy}" r="${r}" fill="${color}">${title}</circle>`;
    const end = angle + share * 2 * Math.PI;
    const [x1, y1, x2, y2] = [cx + r * Math.cos(angle), cy + r * Math.sin(angle), cx + r * Math.cos(end), cy + r * Math.sin(end)];
    const large = share > 0.5 ? 1 : 0;
    angle = end;
    return `<path data-testid="pie-slice" d="M${cx},${cy} L${x1.toFixed(1)},${y1.toFixed(1)} A${r},${r} 0 ${large} 1 ${x2.toFixed(1)},${y2.toFixed(1)} Z" fill="${color}">${title}</path>`;
  });
  return `<svg viewBox="0 0 220 220" width="220" height="220">${slices.join("")}</svg>` + legend(segments.map((s) => s.label));
}

function seriesSvg(kind, series, axis) {
  const categories = axis.categories || [];
  const W = 460, H = 240, left = 48, right = 12, top = 12, bottom = 40;
  const values = series.flatMap((s) => s.data.map((p) => p.value));
  const max = Math.max(0, ...values), min = Math.min(0, ...values), span = (max - min) || 1;
  const y = (v) => top + (H - top - bottom) * (max - v) / span;
  const step = (W - left - right) / Math.max(1, categories.length);
  const x = (i) => left + step * (i + 0.5);
  const at = (s, i) => { const p = s.data.find((d) => d.label === categories[i]); return p ? p.value : 0; };
  const marks = series.map((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    if (kind === "bar") {
      const width = step * 0.8 / series.length;
      return categories.map((_, i) => {
        const v = at(s, i), x0 = left + step * i + step * 0.1 + width * k;
        return `<rect data-testid="bar" x="${x0.toFixed(1)}" y="${Math.min(y(v), y(0)).toFixed(1)}" width="${width.toFixed(1)}" height="${Math.abs(y(0) - y(v)).toFixed(1)}" fill="${color}"><title>${escapeText(s.name)} ${escapeText(categories[i])}: ${v}</title></rect>`;
      }).join("");
    }
    const points = categories.map((_, i) => `${x(i).toFixed(1)},${y(at(s, i)).toFixed(1)}`);
    if (kind === "area") {
      const base = `${x(categories.length - 1).toFixed(1)},${y(0).toFixed(1)} ${x(0).toFixed(1)},${y(0).toFixed(1)}`;
      return `<polygon data-testid="area" points="${points.join(" ")} ${base}" fill="${color}" fill-opacity="0.35" stroke="${color}"/>`;
    }
    return `<polyline data-testid="line" points="${points.join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`;
  });
  const labels = categories.map((c, i) => `<text x="${x(i).toFixed(1)}" y="${H - bottom + 14}" text-anchor="middle" font-size="10">${escapeText(c)}</text>`);
  const axes = `<line x1="${left}" y1="${y(0)}" x2="${W - right}" y2="${y(0)}" stroke="#999"/><line x1="${left}" y1="${top}" x2="${left}" y2="${H - bottom}" stroke="#999"/>` +
    `<text x="${left - 4}" y="${top + 8}" text-anchor="end" font-size="10">${max}</text>` +
    `<text x="${left - 4}" y="${y(0) + 3}" text-anchor="end" font-size="10">0</text>` +
    (min < 0 ? `<text x="${left - 4}" y="${H - bottom}" text-anchor="end" font-size="10">${min}</text>` : "") +
    (axis.x_label ? `<text x="${(left + W - right) / 2}" y="${H - 6}" text-anchor="middle" font-size="11">${escapeText(axis.x_label)}</text>` : "") +
    (axis.y_label ? `<text x="12" y="${(top + H - bottom) / 2}" transform="rotate(-90 12 ${(top + H - bottom) / 2})" text-anchor="middle" font-size="11">${escapeText(axis.y_label)}</text>` : "");
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${axes}${marks.join("")}${labels.join("")}</svg>` + legend(series.map((s) => s.name));
}

function chartHtml(block) {
  const chart = block.chart || {};
  const body = chart.type === "pie" ? pieSvg(chart.segments || []) : seriesSvg(chart.type, chart.series || [], chart.axis_config || {});
  return `<div class="b-chart" data-testid="chart" data-chart-type="${escapeText(chart.type)}"><div class="b-chart-title">${escapeText(block.title)}</div>${body}</div>`;
}
