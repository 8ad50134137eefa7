# Gatehouse, English: every text of the HTML surface. A key missing here or in another
# language's catalog fails a test (tests/api/i18n.rs). Keep the two in the same order.

## The language itself, in its own words (the switcher lists every language so)
language-name = English
# chrono strftime patterns for moments (UTC) and hours
format-datetime = %Y-%m-%d %H:%M UTC
format-hour = %Y-%m-%d %H:%M
format-datetime-seconds = %Y-%m-%d %H:%M:%S UTC

## Frame, switcher, shared words
nav-label = Main
nav-account = Account
nav-admin = Admin
nav-sign-out = Sign out
lang-switch-label = Language
lang-switch-button = Change
divider-or = or
cancel = Cancel
keep-it = Keep it
continue-button = Continue
badge-on = on
badge-off = off
field-username = Username
field-password = Password
field-current-password = Current password
field-new-password = New password
field-new-password-repeat = Repeat new password
username-hint = Letters, digits, '.', '_', '-' and '@'.
password-length-hint = At least { $min } characters, at most 72 bytes.
form-errors-title = Please correct the following:
wait-seconds = { $count ->
    [one] { $count } second
   *[other] { $count } seconds
}
wait-minutes = { $count ->
    [one] { $count } minute
   *[other] { $count } minutes
}

## Sign-in
login-title = Sign in
login-continue-to-before = to continue to{" "}
login-continue-to-after = {""}
login-submit = Sign in
login-passkey-submit = Sign in with a passkey
login-passkey-needs-js = Signing in with a passkey needs JavaScript.
login-no-account = No account?
login-create-one = Create one
login-invalid = Invalid username or password.
login-locked = Too many failed sign-ins. Try again in { $wait }.
login-form-expired = The form expired or did not come from this site. Please try again.
login-app-needs-mfa = This app needs two-step verification. Sign in again with your second factor (turn it on at your account page if you have none).
login-app-needs-recent = This app needs a recent sign-in. Please sign in again.
notice-signed-out = You have been signed out.
notice-signed-out-everywhere = You have been signed out everywhere: every session and API token has ended.
continue-title = Signed in
continue-to-before = Continuing to{" "}
continue-to-after = …

## Two-step verification at sign-in
mfa-title = Two-step verification
mfa-enrol-title = Set up two-step verification
mfa-enrol-intro = This account must have a second factor before it can sign in. Scan the QR code with an authenticator app (such as Aegis, Google Authenticator or 1Password), or type the key into it, then enter the six-digit code it shows.
mfa-enrol-submit = Turn on and sign in
mfa-passkey-intro = Confirm with a passkey or security key registered to your account.
mfa-passkey-submit = Use a passkey
mfa-passkey-needs-js = Passkeys need JavaScript.
mfa-code-label = Code from your authenticator app
mfa-verify = Verify
mfa-recovery-summary = Lost your device? Use a recovery code
mfa-recovery-label = Recovery code
mfa-recovery-submit = Sign in with a recovery code
mfa-cancel = Cancel and sign in again
mfa-too-many = Too many failed attempts. Try again in { $wait }.
mfa-code-wrong-enrol = That code is not right. Check your app's clock and try the current code.
mfa-code-wrong = That code is not right, or was already used.
mfa-enrolled-title = Two-step verification is on
mfa-recovery-signed-in-title = Signed in with a recovery code
totp-key = Key:
totp-kind = Time-based, 6 digits, every 30 seconds (SHA-1).
totp-code-from-app = Code from the app
totp-qr-title = QR code of the TOTP secret, for an authenticator app

## Home, sign-out
home-title = Home
home-welcome = Welcome
home-signed-in = Signed in as { $name }.
home-signed-in-admin = Signed in as { $name } (administrator).
home-change-password = Change your password
home-manage-users = Manage users
logout-title = Sign out
logout-question = Sign out of Gatehouse on this browser?
logout-submit = Sign out
logout-stay = Stay signed in

## Registration and password reset
register-title = Create an account
register-password-hint = At least { $min } characters, at most 72 bytes, and hard to guess.
register-password-repeat = Repeat password
register-submit = Create account
register-have-account = Have an account?
register-sign-in = Sign in
register-taken = That username is taken.
passwords-differ = The two passwords do not match.
new-passwords-differ = The two new passwords do not match.
reset-title = Choose a new password
reset-for-before = For the account{" "}
reset-for-after = . This link works once.
reset-submit = Set password
reset-done-title = Password changed
reset-done-before = The password of{" "}
reset-done-after = {" "}is changed, and every earlier sign-in of the account has ended.
reset-done-sign-in-before = {""}
reset-done-sign-in-link = Sign in
reset-done-sign-in-after = {" "}with the new password.
reset-done-api = The new password works on the token API now

## Password rules (the same rules the JSON API states in English)
username-required = Username is required.
username-too-long = Username must be at most { $max } characters.
username-characters = Username may contain only letters (a–z, A–Z), digits, '.', '_', '-' and '@'.
password-too-short = Password must be at least { $min } characters.
password-too-long = Password must be at most { $max } bytes (bcrypt ignores the rest).
password-nul = Password must not contain NUL characters.
password-guessable = This password is too easy to guess (strength { $score } of 4; at least { $min } is needed).
current-password-wrong = Current password is incorrect.
time-never = never
address-unknown = unknown
device-unknown = Unknown browser
device-on = { $browser } on { $os }

## Account
account-title = Account
account-signed-in-as = Signed in as { $name }.
account-change-password = Change password
account-password-signs-out = Changing your password signs out every other session.
account-password-changed = Your password was changed. Every other session has been signed out.
account-same-password = The new password must be different from the current one.
account-caller-revoked = Your sign-in has ended; sign in again.
account-not-admin = You are no longer an administrator.
account-last-admin = The last enabled administrator cannot be disabled, demoted or deleted.
account-reauth-required = Enter your current password: your sign-in is more than 10 minutes old.
account-wrong-code = The code is wrong or was already used.
account-already-enrolled = Two-factor authentication is already on; remove it first to enrol again.
account-no-enrolment = No TOTP enrolment is waiting for confirmation; start again.
account-no-factor = Two-factor authentication is not on.
account-totp-on = An authenticator app code is asked after your password.
account-recovery-left = { $count ->
    [one] You have { $count } unused recovery code.
   *[other] You have { $count } unused recovery codes.
}
account-make-codes = Make recovery codes
account-make-new-codes = Make new recovery codes
account-new-codes-hint = The old codes stop working, and every other session is signed out.
account-totp-off = Turn off two-step verification
account-totp-off-hint = Removes the authenticator and the recovery codes, and signs out every other session.
account-totp-scan = Scan this QR code with an authenticator app (such as Aegis, Google Authenticator or 1Password), or type the key into it, then enter the six-digit code it shows.
account-totp-turn-on = Turn on
account-totp-set-up = Set up an authenticator app
account-mfa-off = Only your password protects this account.
account-mfa-removed = Two-step verification is off. Every other session has been signed out.
account-passkey-mfa-before = A passkey is asked after your password (see{" "}
account-passkey-mfa-link = Passkeys
account-passkey-mfa-after = ). You can add an authenticator app as well.
account-passkey-recovery-left = { $count ->
    [0] You have no recovery codes: make some for when no passkey is at hand.
    [one] You have { $count } unused recovery code for when no passkey is at hand.
   *[other] You have { $count } unused recovery codes for when no passkey is at hand.
}
account-passkeys-title = Passkeys and security keys
account-passkeys-intro = A passkey (a security key, or your device's fingerprint, face or PIN unlock) can confirm your sign-in instead of a code.
account-passkeys-intro-login = A passkey (a security key, or your device's fingerprint, face or PIN unlock) can confirm your sign-in instead of a code, and can sign you in without your password.
account-passkeys-none = No passkeys yet.
account-passkey-discoverable = sign-in
account-passkey-discoverable-title = Signs in without a password
account-passkey-added = Added { $when }
account-passkey-last-used = last used { $when }
account-passkey-remove = Remove
account-passkey-name = Name of the new passkey
account-passkey-name-placeholder = e.g. YubiKey, work laptop
account-passkey-add = Add a passkey
account-passkey-needs-js = Adding a passkey needs JavaScript.
account-sessions-title = Active sessions
account-sessions-caption = Browsers signed in to your account
account-col-browser = Browser
account-col-address = Address
account-col-signed-in = Signed in
account-col-last-active = Last active
account-col-last-refreshed = Last refreshed
account-col-expires = Expires
account-col-action = Action
account-this-browser = this browser
account-session-end = Sign out
account-session-end-label = Sign out { $device }, last active { $when }
account-session-ended = The session was signed out.
account-tokens-title = API sign-ins
account-tokens-none = No API client holds a refresh token for your account.
account-tokens-caption = Refresh tokens held by API clients
account-token-revoke = Revoke
account-token-revoke-label = Revoke the API sign-in of { $when }
account-token-revoked = The API sign-in was revoked; its tokens no longer work.
account-apps-link = Apps you signed in to with Gatehouse
account-apps-after = (OpenID Connect): see and revoke their access.
account-sign-out-everywhere = Sign out everywhere
account-sign-out-everywhere-hint = Ends every session, this one included, and revokes every API refresh token.
recovery-codes-label = Recovery codes
recovery-codes-new-title = New recovery codes
recovery-codes-save = Save these recovery codes somewhere safe. Each one signs you in once if you lose your authenticator; they are shown only now.
recovery-codes-save-replaces = Save these recovery codes somewhere safe. Each one signs you in once if you lose your authenticator; they are shown only now, and any older set no longer works.
mfa-recovery-used-up = { $count ->
    [one] That recovery code is now used up. You have { $count } recovery code left; you can make a new set on your account page.
   *[other] That recovery code is now used up. You have { $count } recovery codes left; you can make a new set on your account page.
}

## Passkeys
passkey-remove-title = Remove a passkey
passkey-remove-question = Remove this passkey?
passkey-remove-name = Name
passkey-remove-added = Added
passkey-remove-last-used = Last used
passkey-remove-consequence = It will no longer sign you in. Every other session of your account is signed out (this one stays), in case the passkey was lost or stolen.
passkey-remove-submit = Remove the passkey
passkey-added = Passkey “{ $name }” added.
passkey-added-login = Passkey “{ $name }” added. It can also sign you in without your password.
passkey-removed = Passkey “{ $name }” removed. Every other session has been signed out.
passkey-form-expired = The form expired or did not come from this site. Reload the page and try again.
passkey-sign-in-expired = Your sign-in expired. Sign in again.
passkey-sign-in-ended = Your sign-in has ended. Sign in again.
passkey-did-not-verify = The passkey did not verify, or its request expired or was already used. Try again.
passkey-unavailable = { $reason }
passkey-expired = The passkey request expired or was already used. Try again.
passkey-bad-name = Give the passkey a name of 1 to { $max } characters.
passkey-name-taken = You already have a passkey named “{ $name }”; choose another name.
passkey-already-registered = This passkey is already registered.
passkey-none = This account has no passkey.
passkey-not-found = That passkey does not exist (it may have been removed already).
passkey-no-answer = No passkey answer arrived. Use the passkey button (it needs JavaScript).
passkey-answer-too-large = The browser's answer is too large.
passkey-answer-unreadable = The browser's answer could not be read.
passkey-other-site = The passkey answered for another site.
passkey-counter = The passkey's counter went backwards: it may have been copied.
passkey-not-verified = The passkey's answer did not verify.
passkey-unknown = This passkey is not registered here (it may have been removed).
passkey-too-many-waiting = Too many passkey requests are waiting to be completed from here. Finish one, or wait a few minutes and try again.
passkey-wrong-origin = This page was opened at { $used }, but passkeys work only at { $expected }. Open { $expected }/login and try again.
# Texts of static/passkeys.js ({expected}, {actual}, {detail} are filled in by the script)
passkey-js-cancelled = The passkey request was cancelled or timed out. Try again.
passkey-js-already-registered = This authenticator is already registered to your account.
passkey-js-unusable = The authenticator could not be used. Try again.
passkey-js-insecure = The browser refused passkeys on this address. Open this page at the server's public address.
passkey-js-unsupported-authenticator = This authenticator does not support what this server asks for.
passkey-js-failed = The passkey request failed.
passkey-js-failed-detail = The passkey request failed: {"{"}detail{"}"}
passkey-js-session-ended = Your session may have ended. Reload the page and try again.
passkey-js-refused = The server refused the passkey request.
passkey-js-prompt-create = Follow your browser's prompt to create the passkey…
passkey-js-prompt-use = Follow your browser's prompt to use your passkey…
passkey-js-none-chosen = No passkey was chosen.
passkey-js-checking = Checking…
passkey-js-wrong-origin = Passkeys work only at {"{"}expected{"}"}, and this page was opened at {"{"}actual{"}"}. Open{" "}
passkey-js-wrong-origin-after = {" "}to use them.
passkey-js-no-support = This browser does not support passkeys.

## Administration
admin-title = Administration
admin-overview = Overview
admin-stat-users = Users
admin-stat-enabled-disabled = { $enabled } enabled, { $disabled } disabled
admin-stat-admins = Admins
admin-stat-sessions = Active sessions
admin-stat-unknown = unknown
admin-stat-sign-ins = Sign-ins, last 24 h
admin-stat-failures = Failed sign-ins, last 24 h
admin-chart-title = Sign-ins and failed sign-ins per hour, last 24 hours
admin-chart-desc-counts = { $sign_ins ->
    [one] { $sign_ins } sign-in
   *[other] { $sign_ins } sign-ins
} and { $failures ->
    [one] { $failures } failed sign-in
   *[other] { $failures } failed sign-ins
}
admin-chart-desc-span = from { $span }; the busiest hour had { $max }. The table below lists every hour.
admin-chart-span = { $from } to { $to } UTC
admin-chart-bar-ok = { $hour } UTC: { $count ->
    [one] { $count } sign-in
   *[other] { $count } sign-ins
}
admin-chart-bar-failed = { $hour } UTC: { $count } failed
admin-key-sign-ins = Sign-ins
admin-key-failures = Failed sign-ins
admin-key-per-hour = (per hour, UTC)
admin-chart-table-caption = Sign-ins and failed sign-ins per hour (UTC), last 24 hours
admin-col-hour = Hour
admin-col-failed = Failed
admin-create-title = Create a user
admin-create-password-hint = Give it to the user through a channel you trust, or issue them a reset link afterwards.
admin-create-admin = Administrator
admin-create-service = Service account
admin-create-service-hint = A service account may use HTTP Basic with its password alone, second factor or not.
admin-create-submit = Create user
admin-users-caption = Users, their role, status and actions
admin-col-user = User
admin-col-role = Role
admin-col-status = Status
admin-col-created = Created
admin-col-last-sign-in = Last sign-in
admin-col-actions = Actions
admin-you = (you)
admin-role-admin = admin
admin-role-user = user
admin-badge-disabled = disabled
admin-badge-active = active
admin-badge-locked = locked
admin-badge-mfa = 2FA
admin-badge-service = service
admin-self-before = Your account: change it on the{" "}
admin-self-link = account page
admin-self-after = .
admin-action-disable = Disable
admin-action-enable = Enable
admin-action-delete = Delete
admin-action-grant-admin = Make admin
admin-action-revoke-admin = Revoke admin
admin-action-logout = Sign out everywhere
admin-action-unlock = Unlock
admin-action-service-on = Make service account
admin-action-service-off = Not a service account
admin-action-mfa-reset = Reset two-step verification
admin-action-reset-link = Issue a password-reset link
admin-action-reset-link-short = Password-reset link
admin-confirm-disable = Disable: { $name }?
admin-confirm-delete = Delete: { $name }?
admin-confirm-revoke-admin = Revoke admin: { $name }?
admin-confirm-logout = Sign out everywhere: { $name }?
admin-confirm-mfa-reset = Reset two-step verification: { $name }?
admin-confirm-reset-link = Issue a password-reset link: { $name }?
admin-confirm-other = { $action }: { $name }?
admin-consequence-disable = The user can no longer sign in, and every session, refresh token and access token of theirs ends now. You can enable the account again later.
admin-consequence-delete = The account and everything issued to it (sessions, tokens, second factors) are deleted. This cannot be undone.
admin-consequence-revoke-admin = The user loses the admin role, and every session and token of theirs ends now.
admin-consequence-logout = Every session, refresh token and access token of the user ends now; they can sign in again.
admin-consequence-mfa-reset = Every second factor of the user (authenticator app, recovery codes, passkeys) is removed, and every session and token of theirs ends now.
admin-consequence-reset-link = A one-time link to set a new password is shown to you once; it works for 30 minutes. Every session and token of the user ends now, and any earlier link stops working.
admin-done-create = User { $name } created.
admin-done-disable = User { $name } disabled; their sessions were ended.
admin-done-enable = User { $name } enabled.
admin-done-delete = User { $name } deleted.
admin-done-grant-admin = User { $name } made an admin.
admin-done-revoke-admin = User { $name } is no longer an admin.
admin-done-logout = User { $name } was signed out everywhere.
admin-done-unlock = User { $name } was unlocked.
admin-done-service-on = User { $name } is now a service account.
admin-done-service-off = User { $name } is no longer a service account.
admin-done-mfa-reset = User { $name } has no second factor any more; their sessions were ended.
admin-done-reset-link = User { $name } has a new password-reset link; their sessions were ended.
admin-refuse-self = You cannot disable, delete or demote your own account, reset its second factor or issue a reset link for it here (use your account page).
admin-apps-title = Apps
admin-apps-link = OpenID Connect clients
admin-apps-after = : the apps that sign users in through Gatehouse, their redirect URIs and the users who granted them.
admin-server-title = Server
admin-server-caption = The running server's configuration
admin-server-mode = Authentication mode
admin-server-source = Configuration
admin-server-defaults = defaults and environment
admin-server-last-reload = Last reload
admin-reset-link-title = Password-reset link for { $name }
admin-reset-link-notice = Every session and token of { $name } has ended. Give them this link through a channel you trust: it is shown only now.
admin-reset-link-label = Reset link
admin-reset-link-hint = Works once, until { $when } (30 minutes). Issuing another link replaces this one.
admin-back-to-users = Back to the users
reset-gone = This reset link is not valid: it was already used, replaced by a newer one, or has expired.

## OpenID Connect: consent, connected apps, clients, sign-out
consent-title = Allow { $app }?
consent-heading = Allow { $app } to use your account?
consent-intro = { $app } would like to:
consent-back-before = Afterwards you go back to{" "}
consent-back-after = . You can take this permission back at any time on{" "}
consent-apps-link = Account › Connected apps
consent-apps-after = .
consent-allow = Allow
consent-deny = Deny
scope-openid = Know who you are (your account's id on this server)
scope-profile = See your username
scope-offline-access = Stay connected while you are away (it can renew its access)
oidc-request-unreadable = The sign-in request could not be read.
oidc-request-repeated = The sign-in request gives { $name } more than once.
oidc-request-no-client = The sign-in request names no client (client_id).
oidc-request-unknown-client = The application asking you to sign in is not registered here.
oidc-request-no-redirect-uri = The sign-in request has no redirect_uri.
oidc-request-bad-redirect-uri = The application asked to send you to an address it has not registered.
oidc-changed-meanwhile = The application or your account changed meanwhile. Please start again.
oidc-choose-allow-or-deny = Choose Allow or Deny.
oidc-logout-question = Sign out?
oidc-logout-asks = { $app } asks to sign you out of Gatehouse.
oidc-logout-done-title = Signed out
oidc-logout-done = You are signed out of Gatehouse.
oidc-logout-sign-in-again = Sign in again
apps-title = Connected apps
apps-intro = Apps you allowed to sign you in with this account. Revoking one signs you out of it: every token it holds for you stops working, and it asks again next time.
apps-none = No app has access to your account.
apps-allowed = Allowed: { $scope }
apps-since = since { $when }
apps-revoke = Revoke access
apps-revoke-label = Revoke access of { $name }
apps-back = Back to your account
apps-revoked = The app's access was revoked.
apps-had-no-access = That app had no access.
clients-title = Applications
clients-heading = Applications (OpenID Connect clients)
clients-new-secret-before = New secret of client{" "}
clients-new-secret-after = {" "}(shown once; the old one no longer works):
clients-delete-before = Delete{" "}
clients-delete-after = ? Every token issued to it is revoked and its users' consents are removed.
clients-delete-submit = Delete the client
clients-register-hint = Register clients with
clients-none = No client is registered.
clients-id = Client id
clients-type = Type
clients-public = public (PKCE)
clients-confidential = confidential
clients-trusted = , trusted (no consent page)
clients-redirect-uris = Redirect URIs
clients-after-sign-out = After sign-out
clients-users = Users who allowed it
clients-users-none = none
clients-new-secret = New secret
clients-delete = Delete…
clients-deleted = The client was deleted; every token issued to it is revoked.
clients-public-no-secret = A public client has no secret to rotate.
clients-edit = Edit…
client-edit-title = Edit { $app }
client-edit-back = ← Applications
client-edit-id = Client id
client-edit-name = Name
client-edit-redirect-uris-hint = One per line, matched exactly. https, or http to localhost. Removing one stops its pending codes at once.
client-edit-post-logout-hint-before = Where{" "}
client-edit-post-logout-hint-after = {" "}may send people back to; one per line, may be empty.
client-edit-trusted = Trusted: skip the consent page
client-edit-trusted-hint = Only for apps you run yourself; users still see and revoke the app on their account.
client-edit-save = Save
client-edit-saved = The client was saved.
client-edit-name-missing = Give the client a name.
client-edit-name-invalid = The name must have at most 100 characters and no control characters.
client-edit-no-redirect-uri = List at least one redirect URI.
client-edit-too-many-uris = List at most { $max } URIs.
client-uri-too-long = Redirect URI longer than { $max } bytes.
client-uri-spaces = Redirect URI { $uri } contains spaces or control characters.
client-uri-fragment = Redirect URI { $uri } has a fragment.
client-uri-userinfo = Redirect URI { $uri } carries user information.
client-uri-https = Redirect URI { $uri } must use https (http only to localhost, 127.0.0.1 or [::1]).
client-uri-not-absolute = Redirect URI { $uri } is not an absolute URI.

## Error pages
error-back-home = Back to the start page
error-client-title = Request refused
error-forbidden-title = Forbidden
error-forbidden = You do not have access to this page.
error-not-found-title = Not found
error-not-found = There is nothing at this address.
error-csrf-title = Form expired
error-csrf = The form has expired or did not come from this site. Go back, reload the page and try again.
error-busy-title = Busy
error-busy = The server is handling too many sign-ins at once. Please try again in a moment.
error-unavailable-title = Temporarily unavailable
error-unavailable = The server cannot reach its storage right now. Please try again in a moment.
error-locked-title = Too many attempts
error-locked = Too many failed sign-ins. Try again in { $wait }.
error-unexpected-title = Something went wrong
error-unexpected = The server could not complete the request. Please try again later.
error-form-too-large = The form is too large.
error-form-content-type = Expected a form (application/x-www-form-urlencoded).
error-form-unreadable = The form could not be read.
error-request-unreadable = The request could not be read.

## zxcvbn's advice on a weak password
zxcvbn-straight-rows = Straight rows of keys are easy to guess.
zxcvbn-short-keyboard-patterns = Short keyboard patterns are easy to guess.
zxcvbn-repeats-aaa = Repeats like "aaa" are easy to guess.
zxcvbn-repeats-abcabc = Repeats like "abcabcabc" are only slightly harder to guess than "abc".
zxcvbn-top10 = This is a top-10 common password.
zxcvbn-top100 = This is a top-100 common password.
zxcvbn-common = This is a very common password.
zxcvbn-similar-to-common = This is similar to a commonly used password.
zxcvbn-sequences = Sequences like abc or 6543 are easy to guess.
zxcvbn-recent-years = Recent years are easy to guess.
zxcvbn-word-by-itself = A word by itself is easy to guess.
zxcvbn-dates = Dates are often easy to guess.
zxcvbn-names-by-themselves = Names and surnames by themselves are easy to guess.
zxcvbn-common-names = Common names and surnames are easy to guess.
zxcvbn-use-few-words = Use a few words, avoid common phrases.
zxcvbn-no-need-for-symbols = No need for symbols, digits, or uppercase letters.
zxcvbn-add-another-word = Add another word or two. Uncommon words are better.
zxcvbn-capitalization = Capitalization doesn't help very much.
zxcvbn-all-uppercase = All-uppercase is almost as easy to guess as all-lowercase.
zxcvbn-reversed-words = Reversed words aren't much harder to guess.
zxcvbn-substitutions = Predictable substitutions like '@' instead of 'a' don't help very much.
zxcvbn-longer-keyboard-pattern = Use a longer keyboard pattern with more turns.
zxcvbn-avoid-repeats = Avoid repeated words and characters.
zxcvbn-avoid-sequences = Avoid sequences.
zxcvbn-avoid-recent-years = Avoid recent years.
zxcvbn-avoid-your-years = Avoid years that are associated with you.
zxcvbn-avoid-your-dates = Avoid dates and years that are associated with you.
