// Draws the dashboard's charts from the figures the page carries (the table shows the same).
(function () {
  var source = document.getElementById('dashboard-data')
  if (!source || typeof Chart === 'undefined') return
  var data = JSON.parse(source.textContent)
  var labels = data.months
  // GOV.UK colour palette, with enough contrast on white
  var colours = ['#1d70b8', '#f47738', '#d4351c', '#00703c', '#4c2c92']
  function datasets (series) {
    return series.map(function (pair, i) {
      return { label: pair[0], data: pair[1], backgroundColor: colours[i % colours.length] }
    })
  }
  function draw (id, title, series, stacked) {
    var canvas = document.getElementById(id)
    if (!canvas) return
    new Chart(canvas, {
      type: 'bar',
      data: { labels: labels, datasets: datasets(series) },
      options: {
        animation: false,
        responsive: true,
        plugins: { title: { display: true, text: title } },
        scales: {
          x: { stacked: stacked },
          y: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } }
        }
      }
    })
  }
  draw('chart-risk', 'Incidents by risk level', data.risk, true)
  draw('chart-referrals', 'Referrals by agency', data.referrals, true)
  // not parts of one whole (a referral may be delivered and acknowledged): side by side
  draw('chart-outcomes', 'Referral outcomes', data.outcomes, false)
})()
