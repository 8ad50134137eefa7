//! `gatehouse client add|list|delete|rotate-secret` (SPEC §11): the OpenID Connect clients.

use clap::Subcommand;

use crate::auth::token::store as keys;
use crate::config::Settings;
use crate::oidc::clients::{self, ClientView, NewClient};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id and, for a confidential client, its secret (once).
    Add {
        name: String,
        /// Where the client receives codes, matched exactly (repeat for several).
        #[arg(long = "redirect-uri", value_name = "URI", required = true, value_parser = parse_uri)]
        redirect_uris: Vec<String>,
        /// A public client (a browser or native app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// Where `/oidc/logout` may send the browser after sign-out (repeat for several).
        #[arg(long = "post-logout-uri", value_name = "URI", value_parser = parse_uri)]
        post_logout_uris: Vec<String>,
        /// A trusted client: users are not asked to consent.
        #[arg(long)]
        skip_consent: bool,
        /// Print `{"client_id","client_secret"}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the clients.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a client; every token issued to it is revoked.
    Delete {
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Give a confidential client a new secret (printed once); the old one stops working.
    RotateSecret {
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// Print `{"client_id","client_secret"}` as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_uri(raw: &str) -> Result<String, String> {
    clients::validate_redirect_uri(raw).map(|()| raw.to_string())
}

fn print_secret(registered: &clients::Registered, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(registered)?);
        return Ok(());
    }
    println!("client_id: {}", registered.client_id);
    if let Some(secret) = &registered.client_secret {
        println!("client_secret: {secret}");
        println!("(the secret is shown only now; store it in the client's configuration)");
    }
    Ok(())
}

pub fn run(cmd: ClientCommand, settings: &Settings) -> anyhow::Result<()> {
    let db = super::open_database(settings)?;
    let mut conn = db.get()?;
    match cmd {
        ClientCommand::Add {
            name,
            redirect_uris,
            public,
            post_logout_uris,
            skip_consent,
            json,
        } => {
            let registered = clients::register(
                &mut conn,
                &NewClient {
                    name,
                    redirect_uris,
                    post_logout_uris,
                    public,
                    skip_consent,
                },
            )?;
            // The ID-token key is in the JWKS before the first sign-in needs it (when the master
            // secret is here; otherwise the server adds it at its next start).
            if let Ok(master) = keys::open_master(settings, &mut conn, false) {
                keys::ensure_id(settings, &mut conn, &master, true)?;
            }
            print_secret(&registered, json)
        }
        ClientCommand::List { json } => {
            let list = clients::list(&mut conn)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print!("{}", table(&list));
            }
            Ok(())
        }
        ClientCommand::Delete { id } => {
            let ended = clients::delete(&mut conn, &id)?;
            println!(
                "deleted client {id}; {} token famil{} revoked (every instance within \
                 cache.max_staleness)",
                ended.len(),
                if ended.len() == 1 { "y" } else { "ies" }
            );
            Ok(())
        }
        ClientCommand::RotateSecret { id, json } => {
            let registered = clients::rotate_secret(&mut conn, &id)?;
            print_secret(&registered, json)
        }
    }
}

fn table(list: &[ClientView]) -> String {
    let mut out = String::new();
    if list.is_empty() {
        out.push_str("no clients\n");
        return out;
    }
    for c in list {
        out.push_str(&format!(
            "{}  {}  {}{}\n",
            c.client_id,
            if c.public { "public" } else { "confidential" },
            c.name,
            if c.skip_consent {
                "  (skip consent)"
            } else {
                ""
            }
        ));
        for uri in &c.redirect_uris {
            out.push_str(&format!("    redirect: {uri}\n"));
        }
        for uri in &c.post_logout_uris {
            out.push_str(&format!("    post-logout: {uri}\n"));
        }
    }
    out
}
