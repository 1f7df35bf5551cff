// Tell the server the reader's time zone (a cookie), so pages show times in it; UTC until then.
// A file, not an inline script: the Content-Security-Policy allows only script-src 'self'.
"use strict";

(() => {
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (err) {
    return;
  }
  if (!/^[A-Za-z0-9/_+-]{1,64}$/.test(zone)) return;
  const current = document.cookie.split("; ").find((c) => c.startsWith("kaitiaki_tz="));
  if (current === `kaitiaki_tz=${zone}`) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `kaitiaki_tz=${zone}; Path=/; Max-Age=31536000; SameSite=Strict${secure}`;
})();
