//! A software WebAuthn authenticator for tests: P-256 keys (aws-lc-rs), a `none` attestation
//! and assertions built by hand (CBOR written here), resident keys with their user handles,
//! and knobs to misbehave (no user verification, another origin, a counter that goes back).
//!
//! `webauthn-authenticator-rs`'s soft tokens were not used: neither stores resident keys nor
//! returns a user handle, which a username-less sign-in needs.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One credential the authenticator holds.
pub struct Credential {
    pub id: Vec<u8>,
    pub rp_id: String,
    pub user_handle: Vec<u8>,
    key: EcdsaKeyPair,
    pub counter: u32,
}

/// A software authenticator with the credentials it made.
pub struct SoftAuthenticator {
    pub credentials: Vec<Credential>,
    /// Whether it verifies its user (PIN, biometrics): the UV flag.
    pub verifies_user: bool,
    /// How far the signature counter moves per use (0: a synced passkey without a counter).
    pub counter_step: u32,
}

/// What a browser would say the page's origin is.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .expect("base64url")
}

fn cbor_head(major: u8, len: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match len {
        0..=23 => out.push(m | len as u8),
        24..=0xff => out.extend([m | 24, len as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((len as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((len as u32).to_be_bytes());
        }
    }
}

fn cbor_int(v: i64, out: &mut Vec<u8>) {
    if v >= 0 {
        cbor_head(0, v as u64, out);
    } else {
        cbor_head(1, (-1 - v) as u64, out);
    }
}

fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, b.len() as u64, out);
    out.extend_from_slice(b);
}

fn cbor_text(t: &str, out: &mut Vec<u8>) {
    cbor_head(3, t.len() as u64, out);
    out.extend_from_slice(t.as_bytes());
}

fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

impl Default for SoftAuthenticator {
    fn default() -> Self {
        Self {
            credentials: Vec::new(),
            verifies_user: true,
            counter_step: 1,
        }
    }
}

impl SoftAuthenticator {
    fn flags(&self, attested: bool) -> u8 {
        let mut flags = 0x01; // user present
        if self.verifies_user {
            flags |= 0x04;
        }
        if attested {
            flags |= 0x40;
        }
        flags
    }

    /// `navigator.credentials.create` for `public_key` (the options' `publicKey`) on a page
    /// at `origin`: a new credential, answered as the JSON `static/passkeys.js` posts.
    pub fn create(&mut self, public_key: &Value, origin: &str) -> Value {
        let rp_id = public_key["rp"]["id"].as_str().expect("rp.id").to_string();
        let user_handle = unb64(public_key["user"]["id"].as_str().expect("user.id"));
        let challenge = public_key["challenge"].as_str().expect("challenge");
        let excluded: Vec<Vec<u8>> = public_key["excludeCredentials"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|c| unb64(c["id"].as_str().expect("id")))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            !self.credentials.iter().any(|c| excluded.contains(&c.id)),
            "this authenticator is excluded (already registered)"
        );
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .expect("key generated");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
            .expect("key parsed");
        let point = key.public_key().as_ref().to_vec();
        assert_eq!(point.len(), 65, "uncompressed P-256 point");
        let mut id = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut id).expect("random id");

        let mut cose = Vec::new();
        cbor_head(5, 5, &mut cose);
        cbor_int(1, &mut cose);
        cbor_int(2, &mut cose); // kty: EC2
        cbor_int(3, &mut cose);
        cbor_int(-7, &mut cose); // alg: ES256
        cbor_int(-1, &mut cose);
        cbor_int(1, &mut cose); // crv: P-256
        cbor_int(-2, &mut cose);
        cbor_bytes(&point[1..33], &mut cose);
        cbor_int(-3, &mut cose);
        cbor_bytes(&point[33..65], &mut cose);

        let mut auth_data = sha256(rp_id.as_bytes());
        auth_data.push(self.flags(true));
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]); // aaguid
        auth_data.extend((id.len() as u16).to_be_bytes());
        auth_data.extend(&id);
        auth_data.extend(&cose);

        let mut attestation = Vec::new();
        cbor_head(5, 3, &mut attestation);
        cbor_text("fmt", &mut attestation);
        cbor_text("none", &mut attestation);
        cbor_text("attStmt", &mut attestation);
        cbor_head(5, 0, &mut attestation);
        cbor_text("authData", &mut attestation);
        cbor_bytes(&auth_data, &mut attestation);

        let client_data = json!({
            "type": "webauthn.create",
            "challenge": challenge,
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string();
        self.credentials.push(Credential {
            id: id.clone(),
            rp_id,
            user_handle,
            key,
            counter: 0,
        });
        json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(client_data.as_bytes()),
                "transports": ["usb"],
            },
            "extensions": {"credProps": {"rk": true}},
        })
    }

    /// `navigator.credentials.get` for `public_key` on a page at `origin`, with the credential
    /// at `index` among those the options allow (all of this RP's when the list is empty, as
    /// for a username-less sign-in).
    pub fn get(&mut self, public_key: &Value, origin: &str, index: usize) -> Value {
        let rp_id = public_key["rpId"].as_str().expect("rpId").to_string();
        let challenge = public_key["challenge"]
            .as_str()
            .expect("challenge")
            .to_string();
        let allowed: Vec<Vec<u8>> = public_key["allowCredentials"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|c| unb64(c["id"].as_str().expect("id")))
                    .collect()
            })
            .unwrap_or_default();
        let flags = self.flags(false);
        let step = self.counter_step;
        let credential = self
            .credentials
            .iter_mut()
            .filter(|c| c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.id)))
            .nth(index)
            .expect("a credential for this request");
        credential.counter += step;
        let counter = credential.counter;
        sign(credential, &challenge, origin, flags, counter)
    }
}

/// An assertion by `credential` for `challenge` at `origin` with `flags` and `counter`.
pub fn sign(
    credential: &Credential,
    challenge: &str,
    origin: &str,
    flags: u8,
    counter: u32,
) -> Value {
    let mut auth_data = sha256(credential.rp_id.as_bytes());
    auth_data.push(flags);
    auth_data.extend(counter.to_be_bytes());
    let client_data = json!({
        "type": "webauthn.get",
        "challenge": challenge,
        "origin": origin,
        "crossOrigin": false,
    })
    .to_string();
    let mut signed = auth_data.clone();
    signed.extend(sha256(client_data.as_bytes()));
    let signature = credential
        .key
        .sign(&SystemRandom::new(), &signed)
        .expect("signed");
    json!({
        "id": b64(&credential.id),
        "rawId": b64(&credential.id),
        "type": "public-key",
        "response": {
            "authenticatorData": b64(&auth_data),
            "clientDataJSON": b64(client_data.as_bytes()),
            "signature": b64(signature.as_ref()),
            "userHandle": b64(&credential.user_handle),
        },
        "extensions": {},
    })
}
