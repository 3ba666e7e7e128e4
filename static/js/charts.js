/* Bar charts drawn from the tables they illustrate (strict CSP: no inline script; Apache ECharts, vendored
   in static/vendor/echarts.min.js). A <div data-chart-for="ID"> gets a bar chart of <table id="ID"
   data-chart="bar">: one bar per body row, its label from the row's <th>, its value from data-value. */
(function () {
  "use strict";
  function readTable(table) {
    var labels = [], values = [];
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      var head = tr.querySelector("th"), cell = tr.querySelector("[data-value]");
      if (!head || !cell) return;
      labels.push(head.textContent.trim());
      values.push(Number(cell.getAttribute("data-value")));
    });
    return { labels: labels, values: values };
  }
  function draw() {
    if (!window.echarts) return;
    var charts = [];
    document.querySelectorAll("[data-chart-for]").forEach(function (box) {
      var table = document.getElementById(box.getAttribute("data-chart-for"));
      if (!table || table.getAttribute("data-chart") !== "bar") return;
      var data = readTable(table);
      var chart = window.echarts.init(box, null, { renderer: "svg" });
      var rotate = data.labels.length > 4 ? 30 : 0;
      chart.setOption({
        animation: false,
        grid: { left: 48, right: 16, top: 16, bottom: rotate ? 72 : 32 },
        // richText: the HTML tooltip writes style="" attributes, which the CSP (style-src 'self') refuses.
        tooltip: { trigger: "axis", renderMode: "richText" },
        xAxis: { type: "category", data: data.labels, axisLabel: { interval: 0, rotate: rotate, width: 96, overflow: "truncate" } },
        yAxis: { type: "value", minInterval: 1 },
        series: [{
          type: "bar", name: table.getAttribute("data-series") || "", data: data.values, barMaxWidth: 56,
          itemStyle: { color: "#1d4f91" }
        }]
      });
      charts.push(chart);
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
