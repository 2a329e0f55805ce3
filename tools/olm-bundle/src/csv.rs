//! The ClusterServiceVersion: `config/olm/csv.yaml` completed from the code.

use base64::Engine;
use serde_json::{Value, json};

use crate::BundleError;
use crate::crd::{CrdFacts, complete_descriptors, schema};
use crate::rbac;
use crate::source::{CSV_BASE_FILE, EXAMPLES_DIR, Sources};

fn base_error(message: impl Into<String>) -> BundleError {
    BundleError::invalid(CSV_BASE_FILE, message)
}

/// Mutable access to `value` at a JSON pointer, or an error naming it.
fn at<'a>(value: &'a mut Value, pointer: &str) -> Result<&'a mut Value, BundleError> {
    value
        .pointer_mut(pointer)
        .ok_or_else(|| base_error(format!("missing {pointer}")))
}

fn set(value: &mut Value, pointer: &str, key: &str, new: Value) -> Result<(), BundleError> {
    at(value, pointer)?
        .as_object_mut()
        .ok_or_else(|| base_error(format!("{pointer} must be a mapping")))?
        .insert(key.to_string(), new);
    Ok(())
}

/// The CSV's name: `<package>.v<version>`.
pub fn csv_name(src: &Sources) -> String {
    format!("{}.v{}", src.package.name, src.version)
}

/// The operator image with the version as its tag.
pub fn image(src: &Sources) -> Result<String, BundleError> {
    let repo = src
        .csv_base
        .pointer("/metadata/annotations/containerImage")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            base_error("metadata.annotations.containerImage (the image repository) is missing")
        })?;
    if repo
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
        || repo.contains('@')
    {
        return Err(base_error(
            "metadata.annotations.containerImage must be a repository without tag: the tag is the version",
        ));
    }
    Ok(format!("{repo}:{}", src.version))
}

/// Builds the complete CSV.
pub fn csv(src: &Sources) -> Result<Value, BundleError> {
    let facts = CrdFacts::of(&src.crd)?;
    let mut csv = src.csv_base.clone();
    let repo = src
        .csv_base
        .pointer("/metadata/annotations/containerImage")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let image = image(src)?;

    set(&mut csv, "/metadata", "name", json!(csv_name(src)))?;
    set(&mut csv, "/spec", "version", json!(src.version))?;
    set(
        &mut csv,
        "/metadata/annotations",
        "containerImage",
        json!(image),
    )?;
    set(
        &mut csv,
        "/metadata/annotations",
        "alm-examples",
        json!(alm_examples(src, &facts)?),
    )?;
    let icon = base64::engine::general_purpose::STANDARD.encode(&src.icon_svg);
    set(
        &mut csv,
        "/spec",
        "icon",
        json!([{ "base64data": icon, "mediatype": "image/svg+xml" }]),
    )?;
    for (key, value) in [
        ("createdAt", &src.created_at),
        ("repository", &src.repository),
    ] {
        set(&mut csv, "/metadata/annotations", key, json!(value))?;
    }
    links(&mut csv, src)?;
    related_images(&mut csv, src, &image)?;

    owned_crd(&mut csv, src, &facts)?;
    install(&mut csv, src, &repo, &image)?;
    webhooks(&mut csv, &facts)?;
    Ok(csv)
}

/// `spec.links`: the source repository first, then the hand-written ones.
fn links(csv: &mut Value, src: &Sources) -> Result<(), BundleError> {
    let spec = at(csv, "/spec")?;
    let mut links = vec![json!({ "name": "Source code", "url": src.repository })];
    links.extend(
        spec.get("links")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|l| l.get("url") != Some(&json!(src.repository)))
            .cloned(),
    );
    set(spec, "", "links", Value::Array(links))
}

/// `spec.relatedImages`: the operator's image (tagged with the version) first, then the
/// images `config/olm/csv.yaml` lists (what the operator's pods run by default), each
/// with a name and a pinned tag or digest, for mirroring in disconnected clusters.
fn related_images(csv: &mut Value, src: &Sources, image: &str) -> Result<(), BundleError> {
    let spec = at(csv, "/spec")?;
    let mut images = vec![json!({ "name": src.package.name, "image": image })];
    for listed in spec
        .get("relatedImages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = listed
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let reference = listed
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let last = reference.rsplit('/').next().unwrap_or_default();
        if name.is_empty() || !(last.contains(':') || reference.contains('@')) {
            return Err(base_error(format!(
                "spec.relatedImages: every entry needs a name and an image with a tag or digest, found {listed}"
            )));
        }
        images.push(json!({ "name": name, "image": reference }));
    }
    set(spec, "", "relatedImages", Value::Array(images))
}

fn owned_crd(csv: &mut Value, src: &Sources, facts: &CrdFacts) -> Result<(), BundleError> {
    let owned = at(csv, "/spec/customresourcedefinitions/owned")?
        .as_array_mut()
        .ok_or_else(|| base_error("spec.customresourcedefinitions.owned must be a list"))?;
    let [entry] = owned.as_mut_slice() else {
        return Err(base_error(
            "spec.customresourcedefinitions.owned must hold exactly one entry (the LocustTest CRD)",
        ));
    };
    for (key, value) in [
        ("name", &facts.name),
        ("version", &facts.stored_version),
        ("kind", &facts.kind),
    ] {
        set(entry, "", key, json!(value))?;
    }
    for (key, part) in [("specDescriptors", "spec"), ("statusDescriptors", "status")] {
        let schema = schema(&src.crd, &facts.stored_version, part)?;
        if let Some(list) = entry.get_mut(key).and_then(Value::as_array_mut) {
            complete_descriptors(list, schema, part, CSV_BASE_FILE.as_ref())?;
        }
    }
    Ok(())
}

fn install(csv: &mut Value, src: &Sources, repo: &str, image: &str) -> Result<(), BundleError> {
    let spec = at(csv, "/spec/install/spec")?;
    let deployments = spec
        .get_mut("deployments")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| base_error("spec.install.spec.deployments must be a list"))?;
    let mut service_account = None;
    for deployment in deployments.iter_mut() {
        let pod = at(deployment, "/spec/template/spec")?;
        service_account = service_account.or_else(|| {
            pod.get("serviceAccountName")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        for container in pod
            .get_mut("containers")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if container.get("image").and_then(Value::as_str) == Some(repo) {
                set(container, "", "image", json!(image))?;
            }
        }
    }
    let service_account =
        service_account.ok_or_else(|| base_error("the Deployment has no serviceAccountName"))?;
    let (cluster, namespaced) = rbac::permissions(&src.rbac, &service_account);
    set(spec, "", "clusterPermissions", cluster)?;
    set(spec, "", "permissions", namespaced)?;
    Ok(())
}

fn webhooks(csv: &mut Value, facts: &CrdFacts) -> Result<(), BundleError> {
    let defs = at(csv, "/spec/webhookdefinitions")?
        .as_array_mut()
        .ok_or_else(|| base_error("spec.webhookdefinitions must be a list"))?;
    let mut conversion = 0;
    for def in defs.iter_mut() {
        if def.get("type").and_then(Value::as_str) == Some("ConversionWebhook") {
            conversion += 1;
            set(def, "", "conversionCRDs", json!([facts.name]))?;
            set(def, "", "webhookPath", json!(facts.conversion_path))?;
        }
    }
    if conversion != 1 {
        return Err(base_error(format!(
            "expected one ConversionWebhook in spec.webhookdefinitions, found {conversion}"
        )));
    }
    Ok(())
}

/// `alm-examples`: the examples in the stored API version, as a JSON list.
fn alm_examples(src: &Sources, facts: &CrdFacts) -> Result<String, BundleError> {
    let api_version = facts.stored_api_version();
    let examples: Vec<&Value> = src
        .examples
        .iter()
        .filter(|e| {
            e.get("apiVersion").and_then(Value::as_str) == Some(api_version.as_str())
                && e.get("kind").and_then(Value::as_str) == Some(facts.kind.as_str())
        })
        .collect();
    if examples.is_empty() {
        return Err(BundleError::invalid(
            EXAMPLES_DIR,
            format!("no {api_version} {} example for alm-examples", facts.kind),
        ));
    }
    serde_json::to_string_pretty(&examples).map_err(|e| BundleError::Serialise {
        name: "alm-examples".into(),
        message: e.to_string(),
    })
}
