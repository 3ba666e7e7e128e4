/* Charts drawn from the tables they illustrate (strict CSP: no inline script or style; Apache ECharts,
   vendored in static/vendor/echarts.min.js). A <div data-chart-for="ID" data-chart-type="TYPE"> gets a chart
   of <table id="ID">; the numbers come from the table, so a chart never shows a number its table does not.
     bar      one bar per body row: label from the row's <th>, value from [data-value]
     stacked  one stack per body row, one series per <thead> th[data-part] (value td[data-part-value])
     treemap  one rectangle per body row sized by [data-value]; a row with a link drills down on click
     line     x = body rows (months), one line per <thead> th[data-part] */
(function () {
  "use strict";
  var BLUE = "#1d4f91";
  var PALETTE = [BLUE, "#c0504d", "#4f8f3a", "#d08b1a", "#7a4f9a", "#2a9d8f", "#8c564b", "#e377c2", "#5b6770"];
  // The colour of each sex (stacked bars): 男 blue, 女 red.
  var PART_COLOURS = { "1": BLUE, "2": "#c0504d" };

  function readTable(table) {
    var parts = [];
    table.querySelectorAll("thead th[data-part]").forEach(function (th) {
      parts.push({ key: th.getAttribute("data-part"), label: th.textContent.trim(), values: [] });
    });
    var labels = [], values = [], links = [];
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      var head = tr.querySelector("th"), cell = tr.querySelector("[data-value]");
      if (!head || (!cell && !parts.length)) return;
      var link = head.querySelector("a");
      labels.push(head.textContent.trim());
      values.push(cell ? Number(cell.getAttribute("data-value")) : 0);
      links.push(link ? link.getAttribute("href") : null);
      parts.forEach(function (p) {
        var td = tr.querySelector('td[data-part="' + p.key + '"]');
        p.values.push(td ? Number(td.getAttribute("data-part-value")) : 0);
      });
    });
    return { labels: labels, values: values, links: links, parts: parts };
  }

  function axisOptions(labels, narrow, legendRows) {
    var rotate = labels.length > (narrow ? 3 : 6) ? (narrow ? 45 : 30) : 0;
    // Many categories on a narrow screen: ECharts leaves out the labels that would overlap.
    var interval = narrow && labels.length > 6 ? "auto" : 0;
    return {
      grid: { left: 48, right: 16, top: 8 + 24 * Math.max(legendRows, 1), bottom: rotate ? 72 : 32 },
      xAxis: { type: "category", data: labels, axisLabel: { interval: interval, rotate: rotate, width: 96, overflow: "truncate" } },
      yAxis: { type: "value", minInterval: 1 }
    };
  }

  function options(type, data, seriesName, narrow) {
    // richText: the HTML tooltip writes style="" attributes, which the CSP (style-src 'self') refuses.
    var base = { animation: false, tooltip: { trigger: type === "treemap" ? "item" : "axis", renderMode: "richText" } };
    if (type === "treemap") {
      base.series = [{
        type: "treemap", name: seriesName, roam: false, nodeClick: false, breadcrumb: { show: false },
        width: "100%", height: "100%", top: 0, left: 0,
        label: { show: true, formatter: "{b}\n{c}" },
        levels: [{ itemStyle: { borderColor: "#ffffff", borderWidth: 2, gapWidth: 2 } }],
        data: data.labels.map(function (label, i) {
          return { name: label, value: data.values[i], link: data.links[i], itemStyle: { color: PALETTE[i % PALETTE.length] } };
        })
      }];
      return base;
    }
    // the legend of many lines wraps onto a few rows on a narrow screen (never a hidden, scrolled part)
    var legendRows = data.parts.length ? (narrow ? Math.ceil(data.parts.length / 4) : 1) : 0;
    var axes = axisOptions(data.labels, narrow, legendRows);
    base.grid = axes.grid; base.xAxis = axes.xAxis; base.yAxis = axes.yAxis;
    if (type === "stacked" || type === "line") {
      base.legend = { top: 0, type: "plain" };
      base.series = data.parts.map(function (p, i) {
        var colour = type === "stacked" && PART_COLOURS[p.key] ? PART_COLOURS[p.key] : PALETTE[i % PALETTE.length];
        var s = { type: type === "line" ? "line" : "bar", name: p.label, data: p.values, itemStyle: { color: colour } };
        if (type === "stacked") { s.stack = "total"; s.barMaxWidth = 56; }
        else { s.lineStyle = { color: colour }; s.symbolSize = 6; }
        return s;
      });
      return base;
    }
    base.series = [{ type: "bar", name: seriesName, data: data.values, barMaxWidth: 56, itemStyle: { color: BLUE } }];
    return base;
  }

  function draw() {
    if (!window.echarts) return;
    var charts = [];
    var narrow = window.matchMedia("(max-width: 640px)").matches;
    document.querySelectorAll("[data-chart-for]").forEach(function (box) {
      var table = document.getElementById(box.getAttribute("data-chart-for"));
      if (!table) return;
      var type = box.getAttribute("data-chart-type") || "bar";
      var data = readTable(table);
      var chart = window.echarts.init(box, null, { renderer: "svg" });
      chart.setOption(options(type, data, table.getAttribute("data-series") || "", narrow));
      if (type === "treemap") {
        chart.on("click", function (params) {
          var link = params.data && params.data.link;
          if (link) window.location.assign(link);
        });
      }
      box.setAttribute("data-chart-ready", type);
      charts.push(chart);
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
