//! The HTTP ceiling for `bench/http.sh`: a bare Rocket 0.5 hello-world route, built from
//! the same Rocket drydock uses (the vendored copy), with the same worker count and
//! logging off, so that drydock's routes can be measured as a ratio of it in one run.
//! Usage: `cargo run --release --example hello_rocket -- PORT`.

#[rocket::get("/hello")]
fn hello() -> &'static str {
    "Hello, world!"
}

#[rocket::main]
async fn main() -> Result<(), Box<rocket::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8001);
    let figment = rocket::Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", port))
        .merge(("log_level", "off"))
        // Release builds refuse to start without a secret key; this route sets no
        // cookies, so a fixed one does.
        .merge(("secret_key", "5f".repeat(32)));
    rocket::custom(figment)
        .mount("/", rocket::routes![hello])
        .launch()
        .await
        .map(|_| ())
        .map_err(Box::new)
}
