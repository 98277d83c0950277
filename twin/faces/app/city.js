// CIM Twin city streaming (twin serve DIR): a vtk.js view reports its camera when it moves, so
// the server picks the tiles that view needs.  Server-side rendering needs nothing from here:
// the server owns that camera.
window.twinCity = (function () {
  let last = "";
  function poll(trame) {
    if (trame.state.get("rendering") !== "client") return;
    const view = trame.refs.twin_local;
    const id = trame.state.get("my_view");
    if (!view || !view.getCamera || id === null || id === undefined) return;
    const camera = view.getCamera();
    const key = JSON.stringify(camera);
    if (!camera || key === last) return;
    last = key;
    trame.trigger("twin_city_camera", [id, camera]).catch(() => null);
  }
  function start(trame) { window.setInterval(() => poll(trame), 400); }
  return { start };
})();
