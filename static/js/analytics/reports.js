// Draws the report charts from the JSON the page embeds (#report-charts) with the local ECharts.
// Chinese labels come from the server; money is shown as ¥ with thousands separators.
(function () {
  "use strict";
  const specs = JSON.parse(document.getElementById("report-charts").textContent || "[]");
  const money = (v) => (window.scrm && window.scrm.money ? window.scrm.money(v) : "¥" + Number(v || 0).toLocaleString("zh-CN"));
  const shortMoney = (v) => {
    const n = Number(v || 0);
    if (Math.abs(n) >= 10000) return "¥" + (n / 10000).toLocaleString("zh-CN", { maximumFractionDigits: 1 }) + "万";
    return "¥" + n.toLocaleString("zh-CN", { maximumFractionDigits: 0 });
  };
  const pct = (v) => (v === null || v === undefined ? "—" : Number(v).toFixed(1) + "%");
  const fmt = (spec) => (spec.money ? money : spec.pct ? pct : (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("zh-CN")));
  const axisFmt = (spec) => (spec.money ? shortMoney : spec.pct ? (v) => v + "%" : (v) => Number(v).toLocaleString("zh-CN"));
  const palette = ["#07c160", "#3370ff", "#e6a23c", "#d93026", "#8e5bd6", "#14b8a6", "#f472b6", "#64748b"];

  function option(spec) {
    const f = fmt(spec);
    const base = { color: palette, textStyle: { fontFamily: getComputedStyle(document.body).fontFamily }, animation: false };
    if (spec.kind === "pie") {
      return Object.assign(base, {
        tooltip: { trigger: "item", formatter: (p) => `${p.name}<br>${f(p.value)}（${p.percent}%）` },
        legend: { type: "scroll", bottom: 0 },
        series: [{ type: "pie", radius: ["35%", "65%"], name: spec.series[0].name,
          data: spec.x.map((name, i) => ({ name, value: spec.series[0].data[i] })) }],
      });
    }
    if (spec.kind === "funnel") {
      return Object.assign(base, {
        tooltip: { trigger: "item", formatter: (p) => `${p.name}<br>${f(p.value)}` },
        series: [{ type: "funnel", sort: "none", left: "10%", width: "80%", minSize: "10%", name: spec.series[0].name,
          label: { formatter: (p) => `${p.name} ${f(p.value)}` },
          data: spec.x.map((name, i) => ({ name, value: spec.series[0].data[i] })) }],
      });
    }
    if (spec.kind === "heatmap") {
      // Month 0 is 100 % by definition: scale the colours on the later months so they stay readable.
      const later = spec.series[0].data.filter((d) => d[0] > 0 && d[2] !== null).map((d) => d[2]);
      const values = later.length ? later : spec.series[0].data.map((d) => d[2]).filter((v) => v !== null);
      return Object.assign(base, {
        tooltip: { formatter: (p) => `${spec.y[p.value[1]]} · ${spec.x[p.value[0]]}<br>${f(p.value[2])}` },
        grid: { left: 70, right: 16, top: 10, bottom: 90 },
        xAxis: { type: "category", data: spec.x, splitArea: { show: true } },
        yAxis: { type: "category", data: spec.y, inverse: true, splitArea: { show: true } },
        visualMap: { min: 0, max: Math.max(1, ...values), calculable: true, orient: "horizontal", left: "center", bottom: 0,
          inRange: { color: ["#f0fbf4", "#07c160"] }, formatter: (v) => axisFmt(spec)(Math.round(v)) },
        series: [{ type: "heatmap", name: spec.series[0].name, data: spec.series[0].data,
          label: { show: spec.x.length <= 8 && spec.y.length <= 12, formatter: (p) => (spec.pct ? Math.round(p.value[2]) + "%" : shortMoney(p.value[2])) } }],
      });
    }
    return Object.assign(base, {
      tooltip: { trigger: "axis", valueFormatter: f },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: spec.x, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", axisLabel: { formatter: axisFmt(spec) } },
      series: spec.series.map((s) => ({ type: spec.kind, name: s.name, data: s.data, smooth: spec.kind === "line",
        showSymbol: spec.x.length < 40 })),
    });
  }

  const charts = {};
  for (const spec of specs) {
    const el = document.getElementById("chart-" + spec.id);
    if (!el || !window.echarts) continue;
    const chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option(spec));
    charts[spec.id] = chart;
  }
  window.scrmCharts = charts;
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
})();
