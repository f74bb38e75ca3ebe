//! Prefetch the client did not send, fetched from its FHIR server (standards.md §1.3, §1.4): each missing key's
//! template is resolved with the hook context and read from `fhirServer` with the `fhirAuthorization` bearer
//! token, with a timeout, following `next` pages on the same server. When neither the prefetch nor the FHIR
//! server gives the data, the answer is 412 naming the keys and why; a fetched resource that is not FHIR as we
//! read it is 400 naming the key, never a card built from a guess.
//!
//! A FHIR server is called only when it is on the calling client's `fhir_servers` list: a client without one
//! gets no fetch at all (deny unless allowed), because `fhirServer` is whatever the request says and the
//! service would otherwise send requests, with a token, wherever a client points it. Only `https` FHIR servers
//! are called, except on a loopback address (tests, development), and never through a redirect: the access
//! token must not travel in clear text or to another host. The patient id is checked to be a FHIR id before it
//! goes into a URL. Each page is read up to [`MAX_PAGE_BYTES`] and no further, so a server that sends without
//! end cannot fill the service's memory.

use lenaguard_interop::InteropError;
use lenaguard_interop::cds::CdsRequest;
use lenaguard_interop::fhir::Resource;
use reqwest::Url;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// The most pages of one search followed: a patient's labs, conditions and orders fit in far fewer.
const MAX_PAGES: usize = 10;

/// The largest page of a FHIR server's answer read (4 MiB): a page of a patient's labs is a few kilobytes, and
/// the bound keeps a fetch of [`MAX_PAGES`] pages within 40 MiB.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Why a key is not fetched for a client that lists no FHIR server.
pub const NO_FHIR_SERVERS: &str = "not prefetched, and no FHIR server is configured for this client (its fhir_servers list is empty), so nothing is fetched from fhirServer";

/// Why prefetch could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum PrefetchError {
    /// The request itself is wrong (400): a bad `fhirServer`, token type or patient id, or a fetched resource
    /// that is not FHIR as we read it.
    #[error(transparent)]
    Invalid(#[from] InteropError),
    /// The data can be had neither way (412): keys not sent and no FHIR server access, or the FHIR server did
    /// not give them (`why` per key).
    #[error("prefetch: missing {}", .missing.iter().map(|(k, why)| format!("{k} ({why})")).collect::<Vec<_>>().join("; "))]
    Unavailable { missing: Vec<(String, String)> },
}

/// Whether `url` may receive an access token or be trusted for keys: https, or http on a loopback address.
pub(crate) fn may_carry_secrets(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match url.scheme() {
        "https" => !host.is_empty(),
        "http" => host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        _ => false,
    }
}

/// A FHIR id (R4 `id` datatype): `[A-Za-z0-9\-\.]{1,64}`.
fn is_fhir_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Replace `{{context.X}}` tokens by the context's values; every value must be a FHIR id (or a
/// `Type/id` reference), so nothing else can be slipped into the query.
fn resolve(template: &str, request: &CdsRequest) -> Result<String, InteropError> {
    let context = serde_json::to_value(&request.context)
        .map_err(|e| InteropError::malformed("context", e.to_string()))?;
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let token = rest[start + 2..start + len].trim();
        let field = token.strip_prefix("context.").unwrap_or(token);
        let path = format!("context.{field}");
        let value = context.get(field).and_then(Value::as_str).ok_or_else(|| {
            InteropError::missing(&path, "a FHIR id (the prefetch template uses it)")
        })?;
        let id = value.rsplit('/').next().unwrap_or(value);
        if !is_fhir_id(id) || value.split('/').count() > 2 {
            return Err(InteropError::invalid(
                &path,
                value,
                "a FHIR id ([A-Za-z0-9-.], at most 64)",
            ));
        }
        out.push_str(value);
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Fetches missing prefetch over HTTP.
#[derive(Debug, Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    /// The largest page read from a FHIR server, in bytes.
    page_limit: usize,
}

impl Fetcher {
    pub fn new(timeout: Duration, page_limit: usize) -> Result<Fetcher, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client for fhirServer: {e}"))?;
        Ok(Fetcher { http, page_limit })
    }

    /// Fill every key of `required` the client did not send, or say why it cannot be had.
    /// `fhir_servers`: the FHIR base URLs the calling client may name; empty: none, so nothing is fetched.
    pub async fn complete(
        &self,
        request: &mut CdsRequest,
        templates: &BTreeMap<String, String>,
        required: &[&str],
        fhir_servers: &[String],
    ) -> Result<(), PrefetchError> {
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|k| !request.prefetch.contains_key(*k))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let unavailable = |why: &str| PrefetchError::Unavailable {
            missing: missing
                .iter()
                .map(|k| (k.to_string(), why.to_string()))
                .collect(),
        };
        let (Some(server), Some(auth)) = (&request.fhir_server, &request.fhir_authorization) else {
            return Err(unavailable(
                "not prefetched, and no fhirServer with fhirAuthorization to fetch it from",
            ));
        };
        // Checked before the URL is even read: for such a client no fhirServer is ever called.
        if fhir_servers.is_empty() {
            return Err(unavailable(NO_FHIR_SERVERS));
        }
        let base = Url::parse(server.trim_end_matches('/'))
            .ok()
            .filter(may_carry_secrets)
            .ok_or_else(|| {
                InteropError::invalid(
                    "request.fhirServer",
                    server,
                    "an https:// URL (http:// only on a loopback address)",
                )
            })?;
        let base_str = base.as_str().trim_end_matches('/');
        if !fhir_servers
            .iter()
            .any(|a| base_str == a.trim_end_matches('/'))
        {
            return Err(InteropError::invalid(
                "request.fhirServer",
                server,
                format!(
                    "one of this client's FHIR servers: {}",
                    fhir_servers.join(", ")
                ),
            )
            .into());
        }
        if !auth.token_type.eq_ignore_ascii_case("bearer") {
            return Err(InteropError::invalid(
                "request.fhirAuthorization.token_type",
                &auth.token_type,
                "Bearer",
            )
            .into());
        }
        let base = base.as_str().trim_end_matches('/').to_string();
        let mut fetches = tokio::task::JoinSet::new();
        for key in &missing {
            let template = templates.get(*key).ok_or_else(|| {
                InteropError::missing(format!("prefetch.{key}"), "a prefetch template")
            })?;
            let url = format!("{base}/{}", resolve(template, request)?);
            let (fetcher, token, base, key) = (
                self.clone(),
                auth.access_token.clone(),
                base.clone(),
                key.to_string(),
            );
            fetches.spawn(async move {
                let got = fetcher.fetch(&url, &base, &token, &key).await;
                (key, got)
            });
        }
        let mut failed = Vec::new();
        while let Some(done) = fetches.join_next().await {
            let (key, got) = done.map_err(|_| PrefetchError::Unavailable {
                missing: vec![("prefetch".into(), "a fetch did not finish".into())],
            })?;
            match got {
                Ok(value) => {
                    request.prefetch.insert(key, value);
                }
                Err(Fetch::Unavailable(why)) => failed.push((key, why)),
                Err(Fetch::Malformed(e)) => return Err(e.into()),
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            // In the order of `required`, as when nothing could be fetched.
            failed.sort_by_key(|(k, _)| missing.iter().position(|m| m == k));
            Err(PrefetchError::Unavailable { missing: failed })
        }
    }

    /// One key: the resource, a Bundle with every page's entries, or `null` for a read that found nothing.
    async fn fetch(&self, url: &str, base: &str, token: &str, key: &str) -> Result<Value, Fetch> {
        let path = format!("prefetch.{key} (fetched from fhirServer)");
        let mut next = Some(url.to_string());
        let mut merged: Option<Value> = None;
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(Fetch::Unavailable(format!("more than {MAX_PAGES} pages")));
            }
            let Some(mut page) = self.get(&url, token, &path).await? else {
                return Ok(Value::Null);
            };
            Resource::from_value(page.clone(), &path).map_err(Fetch::Malformed)?;
            // Later pages must come from the same server: the token goes with every request.
            next = next_link(&page)
                .map(|n| {
                    if n.starts_with(&format!("{base}/")) || n.starts_with(&format!("{base}?")) {
                        Ok(n)
                    } else {
                        Err(Fetch::Malformed(InteropError::invalid(
                            format!("{path}.link(next)"),
                            n,
                            format!("a URL on the fhirServer {base}"),
                        )))
                    }
                })
                .transpose()?;
            merged = Some(match merged {
                None => page,
                Some(mut first) => {
                    if let (Some(Value::Array(all)), Some(Value::Array(more))) = (
                        first.get_mut("entry"),
                        page.get_mut("entry").map(Value::take),
                    ) {
                        all.extend(more);
                    }
                    first
                }
            });
        }
        let mut value = merged.unwrap_or(Value::Null);
        if let Some(links) = value.get_mut("link") {
            // The merged Bundle is every page; its paging links no longer describe it.
            *links = Value::Array(Vec::new());
        }
        Ok(value)
    }

    /// GET one URL; `None` for 404 (a read that found nothing).
    async fn get(&self, url: &str, token: &str, path: &str) -> Result<Option<Value>, Fetch> {
        let mut response = self
            .http
            .get(url)
            .bearer_auth(token)
            .header("accept", "application/fhir+json")
            .send()
            .await
            .map_err(|e| {
                Fetch::Unavailable(if e.is_timeout() {
                    "the FHIR server did not answer in time".to_string()
                } else {
                    "the FHIR server could not be reached".to_string()
                })
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(Fetch::Unavailable(format!(
                "the FHIR server answered HTTP {}",
                status.as_u16()
            )));
        }
        let too_large = || {
            Fetch::Unavailable(format!(
                "the FHIR server's answer is larger than the {} bytes read per page",
                self.page_limit
            ))
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.page_limit as u64)
        {
            return Err(too_large());
        }
        // Read chunk by chunk and stop at the limit: a missing or false Content-Length must not make the service
        // hold whatever the server keeps sending.
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            Fetch::Unavailable(if e.is_timeout() {
                "the FHIR server did not finish its answer in time".to_string()
            } else {
                "the FHIR server's answer was cut off".to_string()
            })
        })? {
            if bytes.len() + chunk.len() > self.page_limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Fetch::Malformed(InteropError::malformed(path, format!("not JSON ({e})"))))
    }
}

/// How one fetch failed.
#[derive(Debug)]
enum Fetch {
    Unavailable(String),
    Malformed(InteropError),
}

fn next_link(page: &Value) -> Option<String> {
    page.get("link")?
        .as_array()?
        .iter()
        .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))?
        .get("url")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_may_receive_a_token() {
        for ok in [
            "https://ehr.example.org/fhir",
            "http://127.0.0.1:8080/fhir",
            "http://[::1]/fhir",
            "http://localhost/fhir",
        ] {
            assert!(may_carry_secrets(&Url::parse(ok).unwrap()), "{ok}");
        }
        for no in [
            "http://ehr.example.org/fhir",
            "http://10.0.0.1/fhir",
            "ftp://127.0.0.1/fhir",
            "file:///etc/passwd",
        ] {
            assert!(!may_carry_secrets(&Url::parse(no).unwrap()), "{no}");
        }
    }

    #[test]
    fn templates_take_only_fhir_ids() {
        let mut r: CdsRequest = serde_json::from_value(serde_json::json!({
            "hook": "patient-view", "hookInstance": "h", "context": {"patientId": "pt-1", "userId": "Practitioner/p-2"}
        }))
        .unwrap();
        assert_eq!(
            resolve("Observation?patient={{context.patientId}}&_count=1", &r).unwrap(),
            "Observation?patient=pt-1&_count=1"
        );
        assert_eq!(
            resolve("{{context.userId}}", &r).unwrap(),
            "Practitioner/p-2"
        );
        r.context.patient_id = Some("pt-1&code=other".into());
        let e = resolve("Patient/{{context.patientId}}", &r).unwrap_err();
        assert_eq!(e.path(), "context.patientId");
        r.context.patient_id = None;
        assert_eq!(
            resolve("Patient/{{context.patientId}}", &r)
                .unwrap_err()
                .path(),
            "context.patientId"
        );
    }
}
