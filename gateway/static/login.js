/* The login page: "¿Olvidó su contraseña?" carries the user name typed so far to the recovery
   page (without this file the link carries the one of the last attempt, from the server). */
(function () {
  "use strict";
  var input = document.getElementById("username");
  var link = document.getElementById("olvido");
  if (!input || !link) return;
  function carry() {
    var name = input.value.trim();
    link.href = "/recuperar" + (name ? "?usuario=" + encodeURIComponent(name) : "");
  }
  input.addEventListener("input", carry);
  carry();
})();
