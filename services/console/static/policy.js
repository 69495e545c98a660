// Draws a policy trial's charts from the figures the page carries (its tables show the same).
(function () {
  var source = document.getElementById('trial-data')
  if (!source || typeof Chart === 'undefined') return
  var data = JSON.parse(source.textContent)
  // GOV.UK colour palette, with enough contrast on white
  function draw (id, title, labels, datasets) {
    var canvas = document.getElementById(id)
    if (!canvas) return
    new Chart(canvas, {
      type: 'bar',
      data: { labels: labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        plugins: { title: { display: true, text: title } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
      }
    })
  }
  draw('chart-referrals', 'Referrals that would change, by agency', data.agencies, [
    { label: 'added', data: data.added, backgroundColor: '#1d70b8' },
    { label: 'removed', data: data.removed, backgroundColor: '#d4351c' }
  ])
  draw('chart-moves', 'Risk levels that would change', data.moves, [
    { label: 'incidents', data: data.moved, backgroundColor: '#f47738' }
  ])
})()
