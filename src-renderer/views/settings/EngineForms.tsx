import { useState } from 'react';
import type { EngineInput, EngineSettings, SecretSource } from '../../../shared/api/settings-types.js';
import { useClient } from '../../app/hooks.js';
import { SaveOutcome, useSave } from './use-save.js';

/**
 * Docker engines under `engines:`: add, edit (the name too: a rename keeps the engine's connection,
 * running jobs and history), remove. The TLS material (tcp://) and the SSH key
 * (ssh://) are pasted PEM text or a chosen file, read here and sent once: the engine checks it,
 * stores it encrypted and only ever answers which parts are set. A save applies at once: a new
 * engine is pinged and takes jobs when it answers; a removed one takes no new job, and the jobs it
 * is running finish there.
 */

type Part = 'ca' | 'cert' | 'key' | 'sshKey';
const PART_LABEL: Record<Part, string> = { ca: 'CA certificate', cert: 'Client certificate', key: 'Client key', sshKey: 'SSH private key' };
const PART_FIELD: Record<Part, string> = { ca: 'ca', cert: 'cert', key: 'key', sshKey: 'ssh-key' };

/** A part to send: new text, null to remove, or undefined (unchanged). */
type Material = Partial<Record<Part, string | null>>;

function sourceText(source: SecretSource | undefined): string {
  if (source === 'vault') return 'set, stored encrypted';
  if (source === 'file') return 'set, a file named in kiln.config.yml';
  return 'not set';
}

/** One PEM part: its state, a text area to paste into, a file to read from, and removal when set. */
function MaterialField({ part, source, value, onChange }: { part: Part; source?: SecretSource; value: string | null | undefined; onChange: (v: string | null | undefined) => void }) {
  return (
    <div className="engine-material" data-part={PART_FIELD[part]}>
      <span>{PART_LABEL[part]} <small className="muted" data-state>{value === null ? 'removed on save' : sourceText(source)}</small></span>
      <textarea name={`engine-${PART_FIELD[part]}`} rows={3} spellCheck={false} autoComplete="off" placeholder="-----BEGIN …----- (paste, or choose a file)"
        value={typeof value === 'string' ? value : ''} onChange={(e) => onChange(e.target.value || undefined)} />
      <div className="row">
        <input type="file" name={`engine-${PART_FIELD[part]}-file`} aria-label={`${PART_LABEL[part]} file`}
          onChange={(e) => { const f = e.target.files?.[0]; if (f) void f.text().then((t) => onChange(t)); }} />
        {source && value !== null && <button type="button" className="btn btn-small" onClick={() => onChange(null)}>Remove</button>}
      </div>
    </div>
  );
}

interface FieldState {
  address: string;
  limit: string;
  labels: string;
  hostKey: string;
  material: Material;
}

/** The fields shared by adding and editing; which material shows depends on the address's kind. */
function EngineFields({ state, set, current }: { state: FieldState; set: (s: FieldState) => void; current?: EngineSettings }) {
  const tcp = state.address.trim().startsWith('tcp://');
  const ssh = state.address.trim().startsWith('ssh://');
  const part = (p: Part) => (
    <MaterialField key={p} part={p} source={p === 'sshKey' ? current?.sshKey : current?.tls[p]} value={state.material[p]}
      onChange={(v) => set({ ...state, material: { ...state.material, [p]: v } })} />
  );
  return (
    <>
      <label><span>Address <small className="muted">unix:///…, tcp://host:2376, ssh://user@host</small></span>
        <input name="engineAddress" value={state.address} onChange={(e) => set({ ...state, address: e.target.value })} placeholder="tcp://10.0.0.5:2376" spellCheck={false} autoComplete="off" required /></label>
      <label><span>Job limit</span>
        <input name="engineLimit" type="number" min={1} max={256} value={state.limit} onChange={(e) => set({ ...state, limit: e.target.value })} /></label>
      <label><span>Labels <small className="muted">comma-separated: gpu, arch=arm64</small></span>
        <input name="engineLabels" value={state.labels} onChange={(e) => set({ ...state, labels: e.target.value })} spellCheck={false} autoComplete="off" /></label>
      {ssh && (
        <label><span>Host key <small className="muted">SHA256:… as <code>ssh-keygen -lf</code> prints it</small></span>
          <input name="engineHostKey" value={state.hostKey} onChange={(e) => set({ ...state, hostKey: e.target.value })} spellCheck={false} autoComplete="off" /></label>
      )}
      {tcp && (['ca', 'cert', 'key'] as const).map(part)}
      {ssh && part('sshKey')}
    </>
  );
}

function inputOf(name: string, s: FieldState, current?: EngineSettings): EngineInput {
  const labels = s.labels.split(',').map((l) => l.trim()).filter(Boolean);
  // Only what the address's kind shows is sent (text typed before the address changed kind is not).
  const tcp = s.address.trim().startsWith('tcp://');
  const ssh = s.address.trim().startsWith('ssh://');
  const tls = tcp ? Object.fromEntries((['ca', 'cert', 'key'] as const).filter((p) => s.material[p] !== undefined).map((p) => [p, s.material[p]])) : {};
  return {
    name,
    ...(s.address.trim() !== current?.address ? { address: s.address.trim() } : {}),
    ...(s.limit.trim() ? { limit: Number(s.limit) } : {}),
    labels,
    ...(ssh && s.hostKey.trim() !== (current?.hostKey ?? '') ? { hostKey: s.hostKey.trim() || null } : {}),
    ...(Object.keys(tls).length ? { tls } : {}),
    ...(ssh && s.material.sshKey !== undefined ? { sshKey: s.material.sshKey } : {}),
  };
}

const fresh = (e?: EngineSettings): FieldState => ({
  address: e?.address ?? '', limit: String(e?.limit ?? 2), labels: e?.labels.join(', ') ?? '', hostKey: e?.hostKey ?? '', material: {},
});

export function AddEngineForm({ onSaved }: { onSaved: () => void }) {
  const client = useClient();
  const save = useSave();
  const [name, setName] = useState('');
  const [state, setState] = useState<FieldState>(fresh());
  return (
    <form className="grid-form add-engine" data-testid="add-engine" onSubmit={(e) => {
      e.preventDefault();
      const added = name.trim();
      // The answer says whether the engine answered just now, and whether it replaced the default local one.
      void save.run(() => client.saveEngine({ ...inputOf(added, state), create: true }),
        (saved) => [
          saved.warning ? `Added ${added}, but ${saved.warning}.` : `Added ${added}${saved.reachable ? '; it answers and takes jobs now' : '; it takes jobs once it answers'}.`,
          saved.replaces ? `It replaces ${saved.replaces}.` : '',
        ].filter(Boolean).join(' '), () => { setName(''); setState(fresh()); onSaved(); });
    }}>
      <label><span>Name <small className="muted">letters, digits, . _ -</small></span>
        <input name="engineName" value={name} onChange={(e) => setName(e.target.value)} placeholder="build-server" spellCheck={false} autoComplete="off" required /></label>
      <EngineFields state={state} set={setState} />
      <div className="grid-form-actions">
        <SaveOutcome state={save} />
        <button type="submit" className="btn btn-primary" disabled={save.busy || !name.trim() || !state.address.trim()} data-action="add-engine">Add engine</button>
      </div>
    </form>
  );
}

export function EngineEditor({ engine, onSaved }: { engine: EngineSettings; onSaved: () => void }) {
  const client = useClient();
  const save = useSave();
  const [state, setState] = useState<FieldState>(fresh(engine));
  const [name, setName] = useState(engine.name);
  const [confirming, setConfirming] = useState(false);
  const rename = name.trim() !== engine.name ? name.trim() : undefined;
  return (
    <form className="grid-form engine-editor" data-engine={engine.name} onSubmit={(e) => {
      e.preventDefault();
      void save.run(() => client.saveEngine({ ...inputOf(engine.name, state, engine), ...(rename ? { rename } : {}) }),
        rename ? `Renamed ${engine.name} to ${rename}; its running jobs and history go with it.` : `Saved ${engine.name}.`, onSaved);
    }}>
      <h3 className="subhead">{engine.name}</h3>
      <label><span>Name <small className="muted">renaming keeps the connection, running jobs and history</small></span>
        <input name="engineName" value={name} onChange={(e) => setName(e.target.value)} spellCheck={false} autoComplete="off" required /></label>
      <EngineFields state={state} set={setState} current={engine} />
      <div className="grid-form-actions">
        <SaveOutcome state={save} />
        <button type="submit" className="btn btn-primary" disabled={save.busy}>Save</button>
        {confirming ? (
          <>
            <span className="muted small">New jobs stop going to {engine.name}; its running jobs finish there.</span>
            <button type="button" className="btn btn-danger" data-action="confirm-remove-engine"
              onClick={() => void save.run(() => client.removeEngine(engine.name), `Removed ${engine.name}.`, onSaved)}>Remove</button>
            <button type="button" className="btn" onClick={() => setConfirming(false)}>Keep</button>
          </>
        ) : <button type="button" className="btn" onClick={() => setConfirming(true)}>Remove…</button>}
      </div>
    </form>
  );
}
