import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { artemisJavaArgs, artemisNode, pairBrokerXml } from '../src/artemis';
import { infraDir, resolveConfig } from '../src/config';
import { mqttGuardFile } from '../src/operators';

const broker = readFileSync(path.join(infraDir, 'artemis', 'broker.xml'), 'utf8');

describe("the replicated pair's broker configuration", () => {
  it('is broker.xml unchanged plus the replication block, with only the node’s own policy', () => {
    for (const role of ['primary', 'backup'] as const) {
      const xml = pairBrokerXml(role, 'secret<&>');
      const other = role === 'primary' ? 'backup' : 'primary';
      // Everything of broker.xml is there, in order: the block is inserted before </core> only.
      const end = broker.lastIndexOf('</core>');
      expect(xml.startsWith(broker.slice(0, end))).toBe(true);
      expect(xml.endsWith(broker.slice(end))).toBe(true);
      expect(xml).toContain(`<${role}>`);
      expect(xml).not.toContain(`<${other}>`);
      expect(xml).toContain('<cluster-password>secret</cluster-password>');
      expect(xml).toContain('<connector-ref>peer</connector-ref>');
      // XML comments may not contain "--" (Artemis refuses to start).
      for (const comment of xml.match(/<!--([\s\S]*?)-->/g) ?? [])
        expect(comment.slice(4, -3)).not.toContain('--');
    }
  });

  it('gives the backup its own ports and folder, and the primary the single node’s', () => {
    const config = resolveConfig(
      { dir: '/tmp/ondijon-pair' },
      {
        ONDIJON_MQTT_PORT: '20183',
        ONDIJON_MQTT_ADMIN_PORT: '20116',
        ONDIJON_MQTT_BACKUP_PORT: '20185',
        ONDIJON_MQTT_BACKUP_ADMIN_PORT: '20117',
      },
    );
    const primary = artemisNode(config, 'primary');
    const backup = artemisNode(config, 'backup');
    expect(primary.dir).toBe(artemisNode(config, 'single').dir);
    expect([primary.mqttPort, primary.adminPort, primary.peerAdminPort]).toEqual([20183, 20116, 20117]);
    expect([backup.mqttPort, backup.adminPort, backup.peerAdminPort]).toEqual([20185, 20117, 20116]);
    expect(backup.dir).not.toBe(primary.dir);
    const defaults = resolveConfig({}, {});
    expect([defaults.mqttBackupPort, defaults.mqttsBackupPort, defaults.mqttBackupAdminPort]).toEqual([
      11_884, 18_884, 11_617,
    ]);
  });

  it("starts both nodes with the guard's file that `pnpm operators` writes (caps and revocations survive a failover)", () => {
    const config = resolveConfig({ dir: '/tmp/ondijon-pair' }, {});
    const guard = mqttGuardFile(config);
    for (const role of ['single', 'primary', 'backup'] as const) {
      const node = artemisNode(config, role);
      const args = artemisJavaArgs(config, '/opt/artemis', node);
      expect(args).toContain(`-Dondijon.guardFile=${guard}`);
      // The guard reads the certificate login files beside its own file: the ones the JAAS config names.
      const loginConfig = args.find((a) => a.startsWith('-Djava.security.auth.login.config='));
      expect(path.dirname(loginConfig!.split('=')[1]!)).toBe(path.dirname(guard));
    }
    // The backup's own etc folder is not where the file is written.
    expect(path.dirname(guard)).not.toBe(path.join(artemisNode(config, 'backup').dir, 'etc'));
  });
});
