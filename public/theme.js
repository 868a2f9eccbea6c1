// Applies the saved theme (or the system's) before the first paint, and follows system
// changes while no explicit choice is saved. The app's theme button calls
// repowikiApplyTheme() after saving a new choice.
(function () {
  var KEY = "repowiki.theme";
  var media = window.matchMedia("(prefers-color-scheme: dark)");
  function saved() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function apply() {
    var mode = saved();
    var dark = mode === "dark" || (mode !== "light" && media.matches);
    document.documentElement.classList.toggle("dark", dark);
    document.documentElement.style.colorScheme = dark ? "dark" : "light";
  }
  window.repowikiApplyTheme = apply;
  media.addEventListener("change", apply);
  apply();
})();
