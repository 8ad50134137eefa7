// Passkeys (WebAuthn) for Gatehouse's pages: registering one on /account, the passkey second
// step on /login/mfa, and the username-less sign-in on /login.
//
// A form marked `data-passkey="register"` (navigator.credentials.create) or
// `data-passkey="authenticate"` (navigator.credentials.get) works like this: its fields (the
// CSRF token, a name, a password) are posted to its `data-options` URL, which answers
// `{"ceremony", "publicKey"}` (binary fields in base64url) or `{"error"}`; the browser asks
// the authenticator; the answer goes into the form's hidden `ceremony` and `credential`
// fields and the form is submitted as usual, so the server answers with a page.
//
// The texts it shows come from the form's `data-t-*` attributes, written by the page in its
// language (templates/passkey_texts.html); `{name}` marks where a value goes.
(function () {
  "use strict";

  function text(form, name, values) {
    var message = form.dataset["t" + name] || "";
    Object.keys(values || {}).forEach(function (key) {
      message = message.split("{" + key + "}").join(values[key]);
    });
    return message;
  }

  function fromBase64url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    if (!buffer) {
      return null;
    }
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) {
      raw += String.fromCharCode(bytes[i]);
    }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // The options as the browser API wants them: challenge, user id and credential ids binary.
  function creationOptions(publicKey) {
    publicKey.challenge = fromBase64url(publicKey.challenge);
    publicKey.user.id = fromBase64url(publicKey.user.id);
    (publicKey.excludeCredentials || []).forEach(function (c) {
      c.id = fromBase64url(c.id);
    });
    return { publicKey: publicKey };
  }

  function requestOptions(publicKey) {
    publicKey.challenge = fromBase64url(publicKey.challenge);
    (publicKey.allowCredentials || []).forEach(function (c) {
      c.id = fromBase64url(c.id);
    });
    return { publicKey: publicKey };
  }

  function extensionResults(credential) {
    try {
      return credential.getClientExtensionResults() || {};
    } catch (e) {
      return {};
    }
  }

  function registrationJson(credential) {
    var response = credential.response;
    var transports = typeof response.getTransports === "function" ? response.getTransports() : null;
    return JSON.stringify({
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toBase64url(response.attestationObject),
        clientDataJSON: toBase64url(response.clientDataJSON),
        transports: transports
      },
      extensions: extensionResults(credential)
    });
  }

  function assertionJson(credential) {
    var response = credential.response;
    return JSON.stringify({
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toBase64url(response.authenticatorData),
        clientDataJSON: toBase64url(response.clientDataJSON),
        signature: toBase64url(response.signature),
        userHandle: toBase64url(response.userHandle)
      },
      extensions: extensionResults(credential)
    });
  }

  function say(form, message, isError) {
    var status = form.querySelector(".passkey-status");
    if (status) {
      status.textContent = message;
      status.classList.toggle("error", !!isError);
    }
  }

  function browserError(form, error, registering) {
    switch (error && error.name) {
      case "NotAllowedError":
        return text(form, "Cancelled");
      case "InvalidStateError":
        return registering ? text(form, "AlreadyRegistered") : text(form, "Unusable");
      case "SecurityError":
        return text(form, "Insecure");
      case "NotSupportedError":
        return text(form, "UnsupportedAuthenticator");
      default:
        return error && error.message
          ? text(form, "FailedDetail", { detail: error.message })
          : text(form, "Failed");
    }
  }

  function optionsBody(form) {
    var body = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (key !== "ceremony" && key !== "credential" && typeof value === "string") {
        body.append(key, value);
      }
    });
    return body;
  }

  function fetchOptions(form) {
    return fetch(form.dataset.options, {
      method: "POST",
      body: optionsBody(form),
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") !== 0) {
        throw new Error(text(form, "SessionEnded"));
      }
      return response.json().then(function (body) {
        if (!response.ok || body.error) {
          throw new Error(body.error || text(form, "Refused"));
        }
        return body;
      });
    });
  }

  function run(form, button) {
    var registering = form.dataset.passkey === "register";
    button.disabled = true;
    say(form, registering ? text(form, "PromptCreate") : text(form, "PromptUse"), false);
    fetchOptions(form)
      .then(function (options) {
        var ask = registering
          ? navigator.credentials.create(creationOptions(options.publicKey))
          : navigator.credentials.get(requestOptions(options.publicKey));
        return ask.then(
          function (credential) {
            if (!credential) {
              throw new Error(text(form, "NoneChosen"));
            }
            form.elements.ceremony.value = options.ceremony;
            form.elements.credential.value = registering ? registrationJson(credential) : assertionJson(credential);
            if (form.elements.current_password) {
              // The password was checked when the request started; it is not sent again.
              form.elements.current_password.value = "";
              form.elements.current_password.required = false;
            }
            say(form, text(form, "Checking"), false);
            form.submit();
          },
          function (error) {
            throw new Error(browserError(form, error, registering));
          }
        );
      })
      .catch(function (error) {
        say(form, error.message, true);
        button.disabled = false;
      });
  }

  function setUp(form) {
    var button = form.querySelector("button[type=submit], button:not([type])");
    if (!button) {
      return;
    }
    var expected = form.dataset.origin;
    if (expected && window.location.origin !== expected) {
      var there = expected + window.location.pathname;
      say(form, text(form, "WrongOrigin", { expected: expected, actual: window.location.origin }), true);
      var status = form.querySelector(".passkey-status");
      if (status) {
        var link = document.createElement("a");
        link.href = there;
        link.textContent = there;
        status.appendChild(link);
        status.appendChild(document.createTextNode(text(form, "WrongOriginAfter")));
      }
      button.disabled = true;
      return;
    }
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say(form, text(form, "NoSupport"), true);
      button.disabled = true;
      return;
    }
    button.disabled = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!form.reportValidity || form.reportValidity()) {
        run(form, button);
      }
    });
  }

  function init() {
    var forms = document.querySelectorAll("form[data-passkey]");
    for (var i = 0; i < forms.length; i++) {
      setUp(forms[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
