//! `openapi.yaml` as a test oracle: every response the API tests receive must be documented
//! there (route, method, status) and validate against its schema.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

pub struct OpenApi {
    doc: Value,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

pub fn openapi() -> &'static OpenApi {
    static OPENAPI: OnceLock<OpenApi> = OnceLock::new();
    OPENAPI.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
        let text = std::fs::read_to_string(path).expect("openapi.yaml at the top level");
        let doc: Value = serde_yaml_ng::from_str(&text).expect("openapi.yaml is YAML");
        OpenApi {
            doc,
            validators: Mutex::new(HashMap::new()),
        }
    })
}

impl OpenApi {
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// The documented path template matching a concrete path (`{param}` matches one segment).
    pub fn template_for(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        self.doc["paths"]
            .as_object()?
            .keys()
            .find(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                parts.len() == segments.len()
                    && parts.iter().zip(&segments).all(|(part, segment)| {
                        (part.starts_with('{') && part.ends_with('}') && !segment.is_empty())
                            || part == segment
                    })
            })
            .cloned()
    }

    /// Checks that `status` is documented for the operation and `body` validates against the
    /// schema of that response.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), String> {
        let template = self
            .template_for(path)
            .ok_or_else(|| format!("{path} is not in openapi.yaml"))?;
        let operation = &self.doc["paths"][&template][method.to_ascii_lowercase()];
        if operation.is_null() {
            return Err(format!("{method} {template} is not in openapi.yaml"));
        }
        let response = &operation["responses"][status.to_string()];
        let response = if response.is_null() {
            &operation["responses"]["default"]
        } else {
            response
        };
        if response.is_null() {
            return Err(format!(
                "{method} {template} does not document status {status}"
            ));
        }
        let response = self.resolve(response);
        let schema = &response["content"]["application/json"]["schema"];
        if schema.is_null() {
            return if body.is_null() {
                Ok(())
            } else {
                Err(format!(
                    "{method} {template} {status} documents no JSON body"
                ))
            };
        }
        let key = format!("{method} {template} {status}");
        let validator = {
            let mut cache = self.validators.lock().unwrap();
            cache
                .entry(key.clone())
                .or_insert_with(|| {
                    let wrapped = json!({
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "components": self.doc["components"],
                        "allOf": [schema],
                    });
                    std::sync::Arc::new(
                        jsonschema::draft202012::new(&wrapped)
                            .unwrap_or_else(|e| panic!("schema of {key} does not compile: {e}")),
                    )
                })
                .clone()
        };
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{key}: {}\nbody: {body}", errors.join("; ")))
        }
    }

    /// Follows a local `$ref` (responses may be shared components).
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => self.doc.pointer(pointer).unwrap_or(value),
            None => value,
        }
    }
}
