import type { ReactNode } from 'react';

export function ErrorBanner({ error, children }: { error: Error | undefined; children?: ReactNode }) {
  if (!error) return null;
  const code = (error as { code?: string }).code;
  return (
    <div className="error-banner" role="alert">
      <strong>{code === 'NOT_FOUND' ? 'Not found' : code === 'UNAVAILABLE' ? 'Engine unavailable' : 'Error'}</strong>
      <span>{error.message}</span>
      {children}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <div className="empty-title">{title}</div>
      {children && <div className="empty-body">{children}</div>}
    </div>
  );
}
