//! Watches that stay correct across a re-list.
//!
//! A watch lists again from scratch when its resource version has expired, as it does
//! after the API server or etcd restarted. kube's reflector gets two things wrong then,
//! both measured by `make chaos` (scenario `apiserver`):
//!
//! - **Deletions while away are never reported.** An object deleted while the watch was
//!   down is simply absent from the new list; its owner is never reconciled and a deleted
//!   child is not recreated. [`reflect`] compares the new list with the cache and reports
//!   each missing object as deleted, before the list replaces the cache.
//! - **Listed objects trigger reconciles before they are in the cache.** A re-list emits
//!   each object as it arrives, but the cache takes the new list only at its end: a
//!   LocustTest created while the watch was down was reconciled against the old cache,
//!   not found there, and dropped for good. [`reflect`] holds those triggers until the
//!   list is complete and in the cache.
//!
//! [`reflect`] also says when the cache holds its first complete list, for `/readyz`:
//! kube's `Store::wait_until_ready` wakes only one waiter, and the controller is that one.

use std::collections::HashSet;
use std::hash::Hash;

use futures::{Stream, StreamExt, stream};
use kube::runtime::reflector::{self, Lookup, ObjectRef, Store, store::Writer};
use kube::runtime::watcher::{self, Event};
use tokio::sync::oneshot;

/// Keeps `writer`'s cache from `events` and returns the objects whose owners (or who
/// themselves) should be reconciled: every change, every deletion (including those
/// missed while the watch was down) and, once a list is complete, every listed object.
/// `first_sync`, when given, is told the moment the cache holds its first complete list.
pub fn reflect<K, S>(
    writer: Writer<K>,
    events: S,
    first_sync: Option<oneshot::Sender<()>>,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Lookup + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default + Send + Sync,
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static,
{
    let cache = writer.as_reader();
    let events = report_vanished(events, cache.clone());
    let mut first_sync = first_sync;
    // The reflector has applied an event to the cache by the time it passes it on.
    let events = reflector::reflector(writer, events).inspect(move |event| {
        if matches!(event, Ok(Event::InitDone))
            && let Some(tx) = first_sync.take()
        {
            // Nobody listening any more (shutting down) is fine.
            let _ = tx.send(());
        }
    });
    defer_listed(events, cache).filter_map(|event| {
        futures::future::ready(match event {
            Ok(Event::Apply(obj) | Event::Delete(obj)) => Some(Ok(obj)),
            Ok(Event::Init | Event::InitApply(_) | Event::InitDone) => None,
            Err(e) => Some(Err(e)),
        })
    })
}

fn key<K>(obj: &K) -> ObjectRef<K>
where
    K: Lookup,
    K::DynamicType: Default,
{
    obj.to_object_ref(K::DynamicType::default())
}

/// Before a completed list replaces the cache, reports every cached object the list did
/// not have as deleted.
fn report_vanished<K, S>(
    events: S,
    cache: Store<K>,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send
where
    K: Lookup + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default + Send + Sync,
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Send,
{
    events
        .scan(HashSet::new(), move |listed, event| {
            let out = match event {
                Ok(Event::Init) => {
                    listed.clear();
                    vec![Ok(Event::Init)]
                }
                Ok(Event::InitApply(obj)) => {
                    listed.insert(key(&obj));
                    vec![Ok(Event::InitApply(obj))]
                }
                Ok(Event::InitDone) => {
                    let mut out: Vec<_> = vanished(&cache, listed)
                        .into_iter()
                        .map(|obj| Ok(Event::Delete(obj)))
                        .collect();
                    *listed = HashSet::new();
                    out.push(Ok(Event::InitDone));
                    out
                }
                other => vec![other],
            };
            futures::future::ready(Some(stream::iter(out)))
        })
        .flatten()
}

/// The cached objects missing from `listed`.
fn vanished<K>(cache: &Store<K>, listed: &HashSet<ObjectRef<K>>) -> Vec<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    cache
        .state()
        .into_iter()
        .filter(|obj| !listed.contains(&key(obj.as_ref())))
        .map(|obj| obj.as_ref().clone())
        .collect()
}

/// Turns the objects of a list into `Apply` events after its `InitDone`, when the cache
/// has them. Runs after the reflector, so reads the cache as the list left it.
fn defer_listed<K, S>(
    events: S,
    cache: Store<K>,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send
where
    K: Lookup + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default + Send + Sync,
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Send,
{
    events
        .scan(Vec::new(), move |listed, event| {
            let out = match event {
                Ok(Event::InitApply(obj)) => {
                    listed.push(key(&obj));
                    Vec::new()
                }
                Ok(Event::InitDone) => {
                    let mut out = vec![Ok(Event::InitDone)];
                    out.extend(
                        std::mem::take(listed)
                            .iter()
                            .filter_map(|k| cache.get(k))
                            .map(|obj| Ok(Event::Apply(obj.as_ref().clone()))),
                    );
                    out
                }
                other => vec![other],
            };
            futures::future::ready(Some(stream::iter(out)))
        })
        .flatten()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::reflect;

    fn cm(name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    fn names(objs: &[ConfigMap]) -> Vec<String> {
        objs.iter()
            .map(|o| o.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    /// Runs `events` through [`reflect`]; returns the triggered objects and, for each,
    /// whether the cache held it (or, for a deletion, no longer held it) at that moment.
    async fn run(events: Vec<Event<ConfigMap>>) -> (Vec<ConfigMap>, Vec<String>, Vec<bool>) {
        let (reader, writer) = reflector::store::<ConfigMap>();
        let consistent = Arc::new(Mutex::new(Vec::new()));
        let seen = consistent.clone();
        let out: Vec<ConfigMap> = reflect(
            writer,
            futures::stream::iter(events.into_iter().map(Ok)),
            None,
        )
        .filter_map(|r| futures::future::ready(r.ok()))
        .inspect(|obj| {
            let cached = reader.get(&super::key(obj)).is_some();
            if let Ok(mut s) = seen.lock() {
                s.push(cached);
            }
        })
        .collect()
        .await;
        let mut cached = names(
            &reader
                .state()
                .iter()
                .map(|o| o.as_ref().clone())
                .collect::<Vec<_>>(),
        );
        cached.sort();
        let consistent = consistent.lock().map(|c| c.clone()).unwrap_or_default();
        (out, cached, consistent)
    }

    #[tokio::test]
    async fn listed_objects_trigger_only_once_cached() {
        let (out, cached, in_cache) = run(vec![
            Event::Init,
            Event::InitApply(cm("a")),
            Event::InitApply(cm("b")),
            Event::InitDone,
        ])
        .await;
        assert_eq!(names(&out), ["a", "b"]);
        assert_eq!(cached, ["a", "b"]);
        assert_eq!(in_cache, [true, true], "triggered before the cache had it");
    }

    #[tokio::test]
    async fn a_relist_reports_what_was_deleted_while_away() {
        let (out, cached, in_cache) = run(vec![
            Event::Init,
            Event::InitApply(cm("a")),
            Event::InitApply(cm("gone")),
            Event::InitDone,
            // The watch expired; "gone" was deleted and "new" created meanwhile.
            Event::Init,
            Event::InitApply(cm("a")),
            Event::InitApply(cm("new")),
            Event::InitDone,
        ])
        .await;
        assert_eq!(names(&out), ["a", "gone", "gone", "a", "new"]);
        assert_eq!(cached, ["a", "new"]);
        // The first "gone" is its listing (cached); the second its deletion (not cached).
        assert_eq!(in_cache, [true, true, false, true, true]);
    }

    #[tokio::test]
    async fn changes_and_deletions_pass_through() {
        let (out, cached, _) = run(vec![
            Event::Init,
            Event::InitDone,
            Event::Apply(cm("a")),
            Event::Apply(cm("b")),
            Event::Delete(cm("a")),
        ])
        .await;
        assert_eq!(names(&out), ["a", "b", "a"]);
        assert_eq!(cached, ["b"]);
    }

    #[tokio::test]
    async fn the_first_complete_list_is_announced_once_it_is_cached() {
        let (reader, writer) = reflector::store::<ConfigMap>();
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let events = futures::stream::iter(
            vec![
                Event::Init,
                Event::InitApply(cm("a")),
                Event::InitDone,
                Event::Init,
                Event::InitDone,
            ]
            .into_iter()
            .map(Ok),
        );
        let mut out = Box::pin(reflect(writer, events, Some(tx)));
        // Nothing is announced while the list is still arriving.
        assert!(rx.try_recv().is_err(), "announced before any event");
        let first = out.next().await;
        assert!(matches!(&first, Some(Ok(o)) if o.metadata.name.as_deref() == Some("a")));
        assert!(
            rx.try_recv().is_ok(),
            "the first list's end was not announced"
        );
        assert!(reader.get(&super::key(&cm("a"))).is_some());
        // A later re-list does not announce again (the sender is spent, nothing panics).
        assert_eq!(out.count().await, 1, "the re-list reports `a` as deleted");
    }

    #[tokio::test]
    async fn errors_pass_through() {
        let (_, writer) = reflector::store::<ConfigMap>();
        let events = futures::stream::iter(vec![
            Err(kube::runtime::watcher::Error::NoResourceVersion),
            Ok(Event::Apply(cm("a"))),
        ]);
        let out: Vec<_> = reflect(writer, events, None).collect().await;
        assert!(out[0].is_err());
        assert!(matches!(&out[1], Ok(o) if o.metadata.name.as_deref() == Some("a")));
    }
}
