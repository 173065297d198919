import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { pickClient } from './api/pick-client.js';
import { App } from './app/App.js';
import { AuthGate } from './app/SignIn.js';
import './styles/app.css';

// One renderer, two transports: the client is chosen once here; views never know which.
const root = createRoot(document.getElementById('root')!);
pickClient().then(
  (client) => root.render(<StrictMode><AuthGate client={client}>{(signOut) => <App client={client} signOut={signOut} />}</AuthGate></StrictMode>),
  (err: unknown) => root.render(<div className="fatal">Kiln could not start its client: {String(err)}</div>),
);
