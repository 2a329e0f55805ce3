-- Argo CD health check of a locust.io LocustTest (locust-k8s-operator).
-- Install it as `resource.customizations.health.locust.io_LocustTest` in argocd-cm
-- (docs/argocd/argocd-cm.yaml). A test is Progressing while it is Pending or Running,
-- Healthy once it Succeeded, Degraded once it Failed or while it cannot start until
-- someone acts (the operator's Stalled condition). The message is the verdict: the
-- Ready condition's reason and message. tests/integration/gitops_health.rs runs this file on tests
-- read from a real API server.
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function verdict(fallback)
  local ready = condition("Ready")
  if ready ~= nil and ready.reason ~= nil and ready.reason ~= "" then
    if ready.message ~= nil and ready.message ~= "" then
      return ready.reason .. ": " .. ready.message
    end
    return ready.reason
  end
  return fallback
end

local phase = nil
if obj.status ~= nil then
  phase = obj.status.phase
end

if phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = verdict("the test succeeded")
  return hs
end
if phase == "Failed" then
  hs.status = "Degraded"
  hs.message = verdict("the test failed")
  return hs
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = verdict(stalled.reason)
  return hs
end

hs.status = "Progressing"
if phase == nil then
  hs.message = "waiting for the operator to start the test"
else
  local reconciling = condition("Reconciling")
  if reconciling ~= nil and reconciling.message ~= nil and reconciling.message ~= "" then
    hs.message = phase .. ": " .. reconciling.message
  else
    hs.message = phase
  end
end
return hs
