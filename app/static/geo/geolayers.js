/* GeoLayers: offline context layers for the app's Leaflet maps (no CDN, no tiles).
 *
 * Data files sit beside this script (app/static/geo/, served by Streamlit at /app/static/geo/ and cached by
 * the browser): countries-110m.js (loaded as a script before the map's own script, so the base layer draws
 * at once), countries-50m.json, admin1.json and places.json (fetched once, when a map first needs them).
 * They are TopoJSON topologies with quantized, delta-encoded arcs (see app/maps/topo.py), places.json a
 * table of [name, lat, lon, minzoom, capital]. Built by assets/geo/build_layers.py.
 *
 *   GeoLayers.countries({style, values, tooltip})   country polygons (110m; 50m from zoom 4);
 *       values {ISO2: {fill, tip}} makes a choropleth of those countries only (tip: HTML)
 *   GeoLayers.admin1({minZoom, style})               state/province borders (thin lines, canvas)
 *   GeoLayers.places({minZoom, max})                 labels of populated places, by zoom and view
 *   GeoLayers.fitWorld(map)                          frame the inhabited world at any map width
 */
(function () {
  'use strict';
  var here = document.currentScript && document.currentScript.src;
  var BASE = here ? here.replace(/[^\/]*$/, '') : '/app/static/geo/';
  var FINE_ZOOM = 4;  // countries-50m from this zoom
  var WORLD = [[-57, -180], [75, 180]];  // Cape Horn to the Arctic coasts, the antimeridian at both edges
  window.GEO_DATA = window.GEO_DATA || {};
  var pending = {};

  function warn(e) { if (window.console) { console.warn('GeoLayers:', e && e.message ? e.message : e); } }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }

  /* A data file, fetched once per page (the HTTP cache serves later maps). */
  function load(name) {
    if (GEO_DATA[name]) { return Promise.resolve(GEO_DATA[name]); }
    if (!pending[name]) {
      pending[name] = fetch(BASE + name + '.json').then(function (r) {
        if (!r.ok) { throw new Error(r.status + ' ' + r.url); }
        return r.json();
      }).then(function (d) { GEO_DATA[name] = d; return d; });
      pending[name].catch(function () { delete pending[name]; });
    }
    return pending[name];
  }

  /* Arcs of a quantized topology as [[lat, lng], ...] (decoded once per topology). */
  function arcs(topo) {
    if (!topo._ll) {
      var s = topo.transform.scale, t = topo.transform.translate;
      topo._ll = topo.arcs.map(function (a) {
        var x = 0, y = 0, out = new Array(a.length);
        for (var i = 0; i < a.length; i++) {
          x += a[i][0]; y += a[i][1];
          out[i] = [y * s[1] + t[1], x * s[0] + t[0]];
        }
        return out;
      });
    }
    return topo._ll;
  }

  function line(topo, ids) {  // a ring or a line: its arcs joined (~i is arc i reversed)
    var ll = arcs(topo), out = [];
    ids.forEach(function (i) {
      var a = i >= 0 ? ll[i] : ll[~i].slice().reverse();
      out = out.length ? out.concat(a.slice(1)) : a.slice();
    });
    return out;
  }

  function latlngs(topo, g) {
    if (g.type === 'LineString') { return line(topo, g.arcs); }
    if (g.type === 'MultiLineString' || g.type === 'Polygon') {
      return g.arcs.map(function (p) { return line(topo, p); });
    }
    return g.arcs.map(function (poly) { return poly.map(function (r) { return line(topo, r); }); });
  }

  function pane(map, name, z) {
    var p = map.getPane(name);
    if (!p) {
      p = map.createPane(name);
      p.style.zIndex = z;
      p.style.pointerEvents = 'none';
    }
    return name;
  }

  /* Country polygons: the base layer, or a choropleth of the countries in options.values. */
  var CountryLayer = L.FeatureGroup.extend({
    options: {style: {}, values: null, tooltip: true},
    initialize: function (options) {
      L.setOptions(this, options);
      L.FeatureGroup.prototype.initialize.call(this, []);
      this._res = null;
    },
    onAdd: function (map) {
      L.FeatureGroup.prototype.onAdd.call(this, map);
      map.on('zoomend', this._update, this);
      this._update();
    },
    onRemove: function (map) {
      map.off('zoomend', this._update, this);
      L.FeatureGroup.prototype.onRemove.call(this, map);
    },
    _update: function () {
      var map = this._map;
      if (!map) { return; }
      var want = map.getZoom() >= FINE_ZOOM ? 'countries-50m' : 'countries-110m', self = this;
      if (want === this._res) { return; }
      if (GEO_DATA[want]) { this._draw(want); return; }
      if (!this._res && GEO_DATA['countries-110m']) { this._draw('countries-110m'); }  // something now, finer later
      load(want).then(function () {
        if (self._map && (self._map.getZoom() >= FINE_ZOOM) === (want === 'countries-50m')) { self._draw(want); }
      }).catch(warn);
    },
    _draw: function (name) {
      var topo = GEO_DATA[name], o = this.options, self = this;
      this.clearLayers();
      topo.objects.countries.geometries.forEach(function (g) {
        var p = g.properties || {}, v = o.values ? o.values[p.iso] : null;
        if (o.values && !v) { return; }
        var style = L.extend({}, o.style, v ? {fillColor: v.fill} : {});
        var poly = L.polygon(latlngs(topo, g), style);
        var tip = v ? v.tip : esc(p.name || '');
        if (o.tooltip && tip) {
          poly.bindTooltip(tip, {sticky: true, direction: 'right', offset: [14, -14], opacity: 0.85,
                                 className: 'geo-tip'});
        }
        self.addLayer(poly);
      });
      this._res = name;
    }
  });

  /* Thin lines (state and province borders) on a canvas below the markers: each object of the file from
   * its own zoom (options.levels: [[object, minZoom], ...]). */
  var LinesLayer = L.Layer.extend({
    options: {file: 'admin1', levels: [['admin1', 3], ['admin1_fine', 7]],
              style: {color: '#9b968c', weight: 0.6, opacity: 0.9}},
    initialize: function (options) { L.setOptions(this, options); this._groups = {}; },
    onAdd: function (map) {
      map.on('zoomend', this._update, this);
      this._update();
    },
    onRemove: function (map) {
      map.off('zoomend', this._update, this);
      for (var k in this._groups) { map.removeLayer(this._groups[k]); }
    },
    _update: function () {
      var map = this._map, self = this;
      if (!map) { return; }
      var z = map.getZoom(), levels = this.options.levels;
      if (!this._built) {
        if (levels.some(function (l) { return z >= l[1]; })) {
          load(this.options.file).then(function (topo) {
            if (!self._built) { self._build(topo, map); }
            self._update();
          }).catch(warn);
        }
        return;
      }
      levels.forEach(function (l) {
        var g = self._groups[l[0]];
        if (g) { if (z >= l[1]) { map.addLayer(g); } else { map.removeLayer(g); } }
      });
    },
    _build: function (topo, map) {
      var renderer = L.canvas({pane: pane(map, 'geo-lines', 410), padding: 0.3});
      var style = L.extend({}, this.options.style, {renderer: renderer, interactive: false, smoothFactor: 1.2});
      var groups = this._groups;
      this.options.levels.forEach(function (l) {
        var obj = topo.objects[l[0]];
        if (!obj) { return; }
        var g = groups[l[0]] = L.layerGroup();
        obj.geometries.forEach(function (geom) { g.addLayer(L.polyline(latlngs(topo, geom), style)); });
      });
      this._built = true;
    }
  });

  /* Labels of populated places: those whose minzoom has been reached, in view, at most options.max. */
  var PlacesLayer = L.Layer.extend({
    options: {file: 'places', minZoom: 2, max: 300},
    initialize: function (options) { L.setOptions(this, options); },
    onAdd: function (map) {
      this._shown = {};
      map.on('moveend', this._update, this);
      this._update();
    },
    onRemove: function (map) {
      map.off('moveend', this._update, this);
      for (var k in this._shown) { map.removeLayer(this._shown[k]); }
      this._shown = {};
    },
    _update: function () {
      var map = this._map, self = this;
      if (!map) { return; }
      var z = Math.floor(map.getZoom() + 1e-6), want = {}, n = 0, k;
      if (z >= this.options.minZoom) {
        if (!this._rows) {
          load(this.options.file).then(function (d) { self._rows = d.rows; self._update(); }).catch(warn);
          return;
        }
        var b = map.getBounds().pad(0.05), rows = this._rows;
        for (var i = 0; i < rows.length && n < this.options.max; i++) {
          var r = rows[i];
          if (r[3] > z) { break; }  // rows are sorted by minzoom
          for (var w = -360; w <= 360; w += 360) {  // the copy of the world in view
            if (b.contains([r[1], r[2] + w])) { want[i + '@' + w] = [r, w]; n++; break; }
          }
        }
      }
      for (k in this._shown) {
        if (!want[k]) { map.removeLayer(this._shown[k]); delete this._shown[k]; }
      }
      for (k in want) {
        if (this._shown[k]) { continue; }
        var row = want[k][0];
        this._shown[k] = L.marker([row[1], row[2] + want[k][1]], {
          pane: pane(map, 'geo-labels', 450), interactive: false, keyboard: false,
          icon: L.divIcon({className: 'geo-place' + (row[4] ? ' geo-capital' : ''), iconSize: [0, 0],
                           html: '<i></i><span>' + esc(row[0]) + '</span>'})
        }).addTo(map);
      }
    }
  });

  /* Frame ``bounds`` ([[s, w], [n, e]]) with Leaflet's fitBounds ``options`` (maxZoom, padding in px) and
   * keep it framed when the frame is resized (Streamlit sizes a map's iframe after it is drawn) until the
   * user pans or zooms: framed once, the edges of a map that grows narrower cut its pins in half. */
  function fitBounds(map, bounds, options) {
    var touched = false, opts = L.extend({animate: false}, options || {});
    function fit() { if (!touched) { map.fitBounds(bounds, opts); } }
    fit();
    L.DomEvent.on(map.getContainer(), 'mousedown touchstart wheel', function () { touched = true; });
    map.on('resize', fit);
  }

  /* Frame the inhabited world whatever the map's width (fractional zoom), the same way. */
  function fitWorld(map) { fitBounds(map, WORLD); }

  /* A promise settled when no data file is being fetched (the layers draw as soon as their file arrives). */
  function idle() {
    var p = Object.keys(pending).map(function (k) { return pending[k].catch(function () {}); });
    return Promise.all(p).then(function () {
      return Object.keys(pending).some(function (k) { return !GEO_DATA[k]; }) ? idle() : true;
    });
  }

  window.GeoLayers = {
    base: BASE, load: load, idle: idle, world: WORLD, fitWorld: fitWorld, fitBounds: fitBounds,
    countries: function (o) { return new CountryLayer(o); },
    admin1: function (o) { return new LinesLayer(o); },
    places: function (o) { return new PlacesLayer(o); }
  };
})();
