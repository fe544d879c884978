//! Synthetic "typical JSON API" traffic for benchmarks: ~12 endpoints, integer/UUID/prefixed
//! ids, query strings, a few non-standard headers, small JSON bodies (100–600 bytes) and
//! eval-like list pages (1–8 objects with nested objects and arrays, up to 2 kB).
#![allow(dead_code)]
use apitap_model::Observation;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn uuid(r: &mut Rng) -> String {
    let a = r.next();
    let b = r.next();
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b & 0xfff,
        b >> 16 & 0xffffffffffff
    )
}

/// Generate `n` observations (deterministic for a seed).
pub fn generate(n: usize, seed: u64) -> Vec<Observation> {
    let mut r = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
    let mut out = Vec::with_capacity(n);
    let statuses = ["active", "pending", "closed"];
    for i in 0..n {
        let k = r.below(14);
        let id = r.below(100_000);
        let u = uuid(&mut r);
        let (method, target, status, req, resp): (&str, String, u16, Option<String>, String) =
            match k {
                0 => (
                    "GET",
                    format!(
                        "/api/v1/users?limit={}&page={}",
                        10 + r.below(50),
                        r.below(9)
                    ),
                    200,
                    None,
                    format!(
                        r#"{{"data":[{{"id":{id},"email":"u{id}@example.com","name":"User {id}","created_at":"2024-03-01T10:00:00Z"}},{{"id":{},"email":"v@example.com","name":"V","created_at":"2024-03-02T10:00:00Z"}}],"next":null}}"#,
                        id + 1
                    ),
                ),
                1 => (
                    "GET",
                    format!("/api/v1/users/{id}"),
                    200,
                    None,
                    format!(
                        r#"{{"id":{id},"email":"u{id}@example.com","name":"User {id}","status":"{}","created_at":"2024-03-01T10:00:00Z","address":{{"city":"Porto","zip":"4000"}}}}"#,
                        statuses[(id % 3) as usize]
                    ),
                ),
                2 => (
                    "GET",
                    format!("/api/v1/users/{id}"),
                    404,
                    None,
                    r#"{"error":"not_found","message":"No such user"}"#.into(),
                ),
                3 => (
                    "POST",
                    "/api/v1/users".into(),
                    201,
                    Some(format!(
                        r#"{{"email":"n{id}@example.com","name":"New {id}"}}"#
                    )),
                    format!(
                        r#"{{"id":{id},"email":"n{id}@example.com","name":"New {id}","status":"pending","created_at":"2024-03-01T10:00:00Z"}}"#
                    ),
                ),
                4 => (
                    "GET",
                    format!("/api/v1/orders/{u}"),
                    200,
                    None,
                    format!(
                        r#"{{"id":"{u}","total":{}.5,"currency":"EUR","items":[{{"sku":"A-{id}","qty":2}},{{"sku":"B-1","qty":1}}],"paid":true}}"#,
                        id % 500
                    ),
                ),
                5 => (
                    "GET",
                    format!("/api/v1/orders/{u}/items"),
                    200,
                    None,
                    r#"[{"sku":"A-1","qty":2,"price":9.99},{"sku":"B-2","qty":1,"price":19}]"#
                        .into(),
                ),
                6 => (
                    "PATCH",
                    format!("/api/v1/orders/{u}"),
                    200,
                    Some(r#"{"status":"closed"}"#.into()),
                    format!(r#"{{"id":"{u}","status":"closed"}}"#),
                ),
                7 => (
                    "GET",
                    format!("/api/v1/accounts/acct_{:x}{:x}", id, r.next() & 0xfffff),
                    200,
                    None,
                    r#"{"id":"acct_x","balance":1200,"limits":{"daily":500,"monthly":9000}}"#
                        .into(),
                ),
                8 => (
                    "GET",
                    "/api/v1/me".into(),
                    200,
                    None,
                    r#"{"id":7,"roles":["admin","dev"]}"#.into(),
                ),
                9 => (
                    "DELETE",
                    format!("/api/v1/users/{id}"),
                    204,
                    None,
                    String::new(),
                ),
                10 => (
                    "GET",
                    format!("/api/v1/search?q=term{}&type=user", r.below(1000)),
                    200,
                    None,
                    r#"{"hits":[{"id":1,"score":0.9}],"total":1}"#.into(),
                ),
                12 | 13 => {
                    // eval-like list page: 1..=8 summaries with nested objects and arrays
                    let n = 1 + r.below(8);
                    let mut items = Vec::new();
                    for j in 0..n {
                        items.push(format!(
                            r#"{{"slug":"post-{id}-{j}","title":"Title {j} of {id}","excerpt":{},"published_at":"2024-03-0{}T10:00:00Z","reading_minutes":{},"author":{{"slug":"ava-costa","display_name":"Ava Costa"}},"tags":["data","remote"]}}"#,
                            if j % 3 == 0 { "null".to_string() } else { format!(r#""An excerpt {j}""#) },
                            1 + j % 9,
                            3 + j
                        ));
                    }
                    (
                        "GET",
                        format!("/api/v1/articles?page={}", 1 + r.below(30)),
                        200,
                        None,
                        format!(
                            r#"{{"count":{},"next":"https://api.example.com/api/v1/articles?page=2","results":[{}]}}"#,
                            100 + id,
                            items.join(",")
                        ),
                    )
                }
                _ => ("GET", "/healthz".into(), 200, None, "ok".into()),
            };
        let resp_ct = if k == 11 {
            "text/plain"
        } else {
            "application/json"
        };
        out.push(Observation {
            service: "api.example.com".into(),
            server: Some("10.0.0.5:8080".into()),
            method: method.into(),
            target,
            request_headers: vec![
                ("Host".into(), "api.example.com".into()),
                ("User-Agent".into(), "okhttp/4.12".into()),
                ("Accept".into(), "application/json".into()),
                ("Authorization".into(), format!("Bearer tok{id}")),
                ("X-Request-Id".into(), format!("req-{i}")),
                ("Content-Type".into(), "application/json".into()),
            ]
            .into(),
            request_body: req.map(|s| s.into_bytes()),
            request_body_truncated: false,
            status: Some(status),
            response_headers: vec![
                ("Content-Type".into(), resp_ct.into()),
                ("Content-Length".into(), resp.len().to_string()),
                ("Date".into(), "Thu, 26 Nov 2026 15:00:00 GMT".into()),
            ]
            .into(),
            response_body: if resp.is_empty() {
                None
            } else {
                Some(resp.into_bytes())
            },
            response_body_truncated: false,
            latency_ms: Some(0.5 + r.below(2000) as f64 / 100.0),
            ts_unix_ms: 1_764_000_000_000 + i as i64,
            grpc: None,
        });
    }
    out
}
