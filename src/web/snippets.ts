// Ready-to-paste client configuration for this proxy's public URL: nuget.config, and for one package a
// PackageReference and the dotnet CLI line. Pure.

import { html, type Html } from './html.ts';

/** nuget.config with this proxy as the only source (.NET 9+ refuses http sources without the opt-in). */
export function nugetConfigSnippet(publicBase: string): string {
  const insecure = publicBase.startsWith('http:') ? ' allowInsecureConnections="true"' : '';
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<configuration>',
    '  <packageSources>',
    '    <clear />',
    `    <add key="nuget-proxy" value="${publicBase}/v3/index.json" protocolVersion="3"${insecure} />`,
    '  </packageSources>',
    '</configuration>',
  ].join('\n');
}

export function renderFeedSnippets(publicBase: string): Html {
  return html`<p class="small">Service index: <span class="mono" id="service-index">${publicBase}/v3/index.json</span>.
Put this <span class="mono">nuget.config</span> next to your solution (or in the user or machine configuration):</p>
<pre class="snippet" id="nuget-config">${nugetConfigSnippet(publicBase)}</pre>`;
}

export function packageReferenceSnippet(id: string, version: string): string {
  return `<PackageReference Include="${id}" Version="${version}" />`;
}

export function dotnetAddSnippet(id: string, version: string): string {
  return `dotnet add package ${id} --version ${version}`;
}
