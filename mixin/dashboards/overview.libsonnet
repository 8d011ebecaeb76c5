// The overview dashboard, dashboards/iam-credentials-overview.json: the
// posture, compliance, findings and exemptions, access keys and the health
// of the reports and the exporter, over the selected accounts and team.
//
// Written as Grafana exports it, with the thresholds, rule names and
// texts of _config from v (common.values). common.libsonnet has the frame
// and the variables that the dashboards share.
//
// The compliance shares (0 to 1, with min 0 and max 1) are coloured by
// thresholds in percentage mode, 80 and 100 % of that range: the colours of
// 0.8 and 1, without a fraction in the JSON, which go-jsonnet and jsonnet
// 0.18 print differently (0.8, 0.80000000000000004).
local common = import 'common.libsonnet';
local vars = common.variables;

function(v)
  local q = common.promql(v);
  // The values, and the PromQL of ages, compliance and owners that the
  // queries format with.
  local w = v {
    keyAge: q.keyAge(q.sel),
    keyAgeNotRoot: q.keyAge(q.notRoot),
    keyIdleNotRoot: q.keyIdle(q.notRoot),
    keyUnusedNotRoot: q.keyUnused(q.notRoot),
    passwordIdleNotRoot: q.passwordIdle(q.notRoot),
    keyRotated: q.keyRotated(q.notRoot, v.keyRotationDays),
    consoleUserMFA: q.consoleUserMFA(q.notRoot),
    credentialUsed: q.credentialUsed(q.notRoot, v.unusedDays),
    inTeam: q.inTeam(q.sel),
    withOwner: q.withOwner(q.sel),
  };
  common.dashboard(
    v,
    uid='overview',
    title='Overview',
    description='Credential hygiene of the AWS accounts that iam_credential_exporter reads: compliance shares and their trend, the worst accounts and teams, findings and exemptions, access-key age and use, MFA, root user, and the health of the credential reports.',
    variables=[vars.datasource, vars.cluster(v), vars.job(v), vars.account(v), vars.team(v)],
    panels=[
      {
        id: 1,
        type: 'row',
        title: 'Posture',
        collapsed: false,
        panels: [],
        gridPos: { h: 1, w: 24, x: 0, y: 0 },
      },
      {
        id: 2,
        type: 'stat',
        title: 'Accounts',
        description: 'Accounts the exporter refreshes.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 3, x: 0, y: 1 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id) (iam_credential_exporter_refreshes_total{%(jobSel)s,account_id=~"$account_id"}))' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'blue', value: null }] },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 3,
        type: 'stat',
        title: 'IAM users',
        description: 'IAM users in the credential reports (the root user not counted). Filtered by team.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 3, x: 3, y: 1 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id, user) (aws_iam_user_info{%(jobSel)s,account_id=~"$account_id",user!="<root_account>"} %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'blue', value: null }] },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 4,
        type: 'stat',
        title: 'Active access keys',
        description: 'Active access keys, root keys included. Filtered by team.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 3, x: 6, y: 1 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id, user, key) (aws_iam_access_key_active{%(jobSel)s,account_id=~"$account_id"} == 1 %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'blue', value: null }] },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 5,
        type: 'stat',
        title: 'Keys over %(keyRotation)s' % v,
        description: 'Active IAM-user access keys created or last rotated more than %(keyRotation)s ago (alert IAMCredentialAccessKeyTooOld). Filtered by team.' % v,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 3, x: 9, y: 1 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id, user, key) (%(keyAgeNotRoot)s > %(keyRotationDays)s * 86400 %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: {
              mode: 'absolute',
              steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }],
            },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 6,
        type: 'stat',
        title: 'Keys unused %(unusedDays)s+ days' % v,
        description: 'Active IAM-user access keys not used for %(unused)s or more; a key never used counts from its creation (alert IAMCredentialAccessKeyUnused). Filtered by team.' % v,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 3, x: 12, y: 1 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id, user, key) (%(keyIdleNotRoot)s >= %(unusedDays)s * 86400 %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: {
              mode: 'absolute',
              steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }],
            },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 7,
        type: 'stat',
        title: 'Console users without MFA',
        description: 'IAM users with a console password and no MFA device (alert IAMCredentialConsoleUserWithoutMFA). Filtered by team.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 3, x: 15, y: 1 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id, user) (aws_iam_user_mfa_active{%(jobSel)s,account_id=~"$account_id",user!="<root_account>"} == 0 and aws_iam_user_password_enabled{%(jobSel)s,account_id=~"$account_id",user!="<root_account>"} == 1 %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: {
              mode: 'absolute',
              steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }],
            },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 8,
        type: 'stat',
        title: 'Active root keys',
        description: 'Active access keys of root users (alert IAMCredentialRootAccessKeyActive).',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 3, x: 18, y: 1 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id, key) (aws_iam_access_key_active{%(jobSel)s,account_id=~"$account_id",user="<root_account>"} == 1)) or vector(0)' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: {
              mode: 'absolute',
              steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }],
            },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 9,
        type: 'stat',
        title: 'Root users without MFA',
        description: 'Accounts whose root user has no MFA device (alert IAMCredentialRootWithoutMFA).',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 3, x: 21, y: 1 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id) (aws_iam_user_mfa_active{%(jobSel)s,account_id=~"$account_id",user="<root_account>"} == 0)) or vector(0)' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: {
              mode: 'absolute',
              steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }],
            },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 10,
        type: 'table',
        title: 'Root user per account',
        description: "MFA, active access keys (0 when it has none) and the last use of each account's root user.",
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 10, x: 0, y: 5 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'max by (account_id) (aws_iam_user_mfa_active{%(jobSel)s,account_id=~"$account_id",user="<root_account>"}) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'max by (account_id) (sum without (key) (aws_iam_access_key_active{%(jobSel)s,account_id=~"$account_id",user="<root_account>"}) or on (%(target)s, account_id) 0 * aws_iam_user_mfa_active{%(jobSel)s,account_id=~"$account_id",user="<root_account>"}) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: 'min by (account_id) (account:aws_iam_root_user_last_used_age_seconds{%(jobSel)s,account_id=~"$account_id"}) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
        ],
        transformations: [
          { id: 'merge', options: {} },
          {
            id: 'organize',
            options: {
              excludeByName: { Time: true, job: true, instance: true },
              indexByName: { account_id: 0, 'Value #A': 2, 'Value #B': 3, 'Value #C': 4, name: 1 },
              renameByName: {},
            },
          },
        ],
        fieldConfig: {
          defaults: {
            custom: { align: 'auto', filterable: true, cellOptions: { type: 'auto' }, inspect: false },
            mappings: [],
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
          },
          overrides: [
            {
              matcher: { id: 'byName', options: 'account_id' },
              properties: [{ id: 'displayName', value: 'Account' }],
            },
            {
              matcher: { id: 'byName', options: 'name' },
              properties: [{ id: 'displayName', value: 'Name' }],
            },
            {
              matcher: { id: 'byName', options: 'Value #A' },
              properties: [
                { id: 'displayName', value: 'Root MFA' },
                { id: 'unit', value: 'none' },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [{ color: 'red', value: null }, { color: 'green', value: 1 }],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'value',
                      options: {
                        '0': { text: 'MISSING', color: 'red', index: 0 },
                        '1': { text: 'enabled', color: 'green', index: 1 },
                      },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #B' },
              properties: [
                { id: 'displayName', value: 'Active root keys' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 0 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #C' },
              properties: [
                { id: 'displayName', value: 'Root last used' },
                { id: 'unit', value: 's' },
                { id: 'decimals', value: 0 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [
                      { color: 'orange', value: null },
                      { color: 'transparent', value: v.rootRecentUseSeconds },
                    ],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
          ],
        },
        options: {
          showHeader: true,
          cellHeight: 'sm',
          footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
        },
      },
      {
        id: 11,
        type: 'table',
        title: 'Report and refresh health per account',
        description: "Age of the cached credential report (AWS rebuilds it at most every 4 hours; alert over %(reportAge)s), the last refresh and failures in the dashboard's time range." % v,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 14, x: 10, y: 5 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'max by (account_id) (account:aws_iam_credential_report_age_seconds{%(jobSel)s,account_id=~"$account_id"}) * on (account_id) group_left (name, alias) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'min by (account_id) (iam_credential_exporter_refresh_success{%(jobSel)s,account_id=~"$account_id"}) * on (account_id) group_left (name, alias) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: 'min by (account_id) (time() - iam_credential_exporter_last_refresh_success_timestamp_seconds{%(jobSel)s,account_id=~"$account_id"}) * on (account_id) group_left (name, alias) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'D',
            expr: 'max by (account_id) (iam_credential_exporter_refresh_duration_seconds{%(jobSel)s,account_id=~"$account_id"}) * on (account_id) group_left (name, alias) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'E',
            expr: 'sum by (account_id) (increase(iam_credential_exporter_refresh_failures_total{%(jobSel)s,account_id=~"$account_id"}[$__range])) * on (account_id) group_left (name, alias) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'F',
            expr: 'sum by (account_id) (increase(iam_credential_exporter_report_parse_errors_total{%(jobSel)s,account_id=~"$account_id"}[$__range])) * on (account_id) group_left (name, alias) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'G',
            expr: 'max by (account_id) (aws_iam_credential_report_users{%(jobSel)s,account_id=~"$account_id"}) * on (account_id) group_left (name, alias) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
        ],
        transformations: [
          { id: 'merge', options: {} },
          {
            id: 'organize',
            options: {
              excludeByName: { Time: true, job: true, instance: true },
              indexByName: {
                account_id: 0,
                'Value #G': 3,
                'Value #A': 4,
                'Value #B': 5,
                'Value #C': 6,
                'Value #D': 7,
                'Value #E': 8,
                'Value #F': 9,
                name: 1,
                alias: 2,
              },
              renameByName: {},
            },
          },
        ],
        fieldConfig: {
          defaults: {
            custom: { align: 'auto', filterable: true, cellOptions: { type: 'auto' }, inspect: false },
            mappings: [],
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
          },
          overrides: [
            {
              matcher: { id: 'byName', options: 'account_id' },
              properties: [{ id: 'displayName', value: 'Account' }],
            },
            {
              matcher: { id: 'byName', options: 'name' },
              properties: [{ id: 'displayName', value: 'Name' }],
            },
            {
              matcher: { id: 'byName', options: 'alias' },
              properties: [{ id: 'displayName', value: 'Alias' }],
            },
            {
              matcher: { id: 'byName', options: 'Value #A' },
              properties: [
                { id: 'displayName', value: 'Report age' },
                { id: 'unit', value: 's' },
                { id: 'decimals', value: 0 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [
                      { color: 'green', value: null },
                      { color: 'yellow', value: 4.5 * 3600 },
                      { color: 'red', value: v.reportAgeSeconds },
                    ],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #B' },
              properties: [
                { id: 'displayName', value: 'Last refresh' },
                { id: 'unit', value: 'none' },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [{ color: 'red', value: null }, { color: 'green', value: 1 }],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'value',
                      options: {
                        '0': { text: 'FAILED', color: 'red', index: 0 },
                        '1': { text: 'ok', color: 'green', index: 1 },
                      },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #C' },
              properties: [
                { id: 'displayName', value: 'Since last success' },
                { id: 'unit', value: 's' },
                { id: 'decimals', value: 0 },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #D' },
              properties: [
                { id: 'displayName', value: 'Refresh took' },
                { id: 'unit', value: 's' },
                { id: 'decimals', value: 2 },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #E' },
              properties: [
                { id: 'displayName', value: 'Failed refreshes' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 0 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [{ color: 'transparent', value: null }, { color: 'red', value: 1 }],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #F' },
              properties: [
                { id: 'displayName', value: 'Parse problems' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 0 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [{ color: 'transparent', value: null }, { color: 'orange', value: 1 }],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #G' },
              properties: [
                { id: 'displayName', value: 'Report rows' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 0 },
              ],
            },
          ],
        },
        options: {
          showHeader: true,
          cellHeight: 'sm',
          footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
          sortBy: [{ displayName: 'Report age', desc: true }],
        },
      },
      {
        id: 21,
        type: 'row',
        title: 'Compliance',
        collapsed: false,
        panels: [],
        gridPos: { h: 1, w: 24, x: 0, y: 13 },
      },
      {
        id: 22,
        type: 'stat',
        title: 'Access keys rotated within %(keyRotation)s' % v,
        description: 'Share of the active IAM-user access keys (root excluded) created or rotated within the last %(keyRotation)s (CIS AWS Foundations 1.14). Over the selected accounts and team: the share of all their credentials (1 per compliant credential, 0 per other, averaged, as the rule account:aws_iam_access_keys_rotated:ratio does per account).' % v,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 8, x: 0, y: 14 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'avg(%(keyRotated)s %(inTeam)s)' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'percentunit',
            decimals: 1,
            min: 0,
            max: 1,
            color: { mode: 'thresholds' },
            thresholds: {
              mode: 'percentage',
              steps: [
                { color: 'red', value: null },
                { color: 'yellow', value: 80 },
                { color: 'green', value: 100 },
              ],
            },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 23,
        type: 'stat',
        title: 'Console users with MFA',
        description: 'Share of the IAM users with a console password (root excluded) that have MFA (CIS AWS Foundations 1.10). Over the selected accounts and team: the share of all their credentials (1 per compliant credential, 0 per other, averaged, as the rule account:aws_iam_console_users_mfa:ratio does per account).',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 8, x: 8, y: 14 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'avg(%(consoleUserMFA)s %(inTeam)s)' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'percentunit',
            decimals: 1,
            min: 0,
            max: 1,
            color: { mode: 'thresholds' },
            thresholds: {
              mode: 'percentage',
              steps: [
                { color: 'red', value: null },
                { color: 'yellow', value: 80 },
                { color: 'green', value: 100 },
              ],
            },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 24,
        type: 'stat',
        title: 'Credentials used within %(unused)s' % v,
        description: 'Share of the active access keys and console passwords (root excluded) used, or created, within the last %(unused)s (CIS AWS Foundations 1.12). Over the selected accounts and team: the share of all their credentials (1 per compliant credential, 0 per other, averaged, as the rule account:aws_iam_credentials_used:ratio does per account).' % v,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 8, x: 16, y: 14 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'avg(%(credentialUsed)s %(inTeam)s)' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'percentunit',
            decimals: 1,
            min: 0,
            max: 1,
            color: { mode: 'thresholds' },
            thresholds: {
              mode: 'percentage',
              steps: [
                { color: 'red', value: null },
                { color: 'yellow', value: 80 },
                { color: 'green', value: 100 },
              ],
            },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 25,
        type: 'timeseries',
        title: 'Compliance, last 30 days',
        description: "The three shares above over the last 30 days, whatever the dashboard's time range (at most one point per 1h: the report changes every few hours at most).",
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 12, x: 0, y: 18 },
        timeFrom: '30d',
        hideTimeOverride: false,
        interval: '1h',
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'avg(%(keyRotated)s %(inTeam)s)' % w,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'access keys rotated within %(keyRotation)s' % v,
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'avg(%(consoleUserMFA)s %(inTeam)s)' % w,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'console users with MFA',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: 'avg(%(credentialUsed)s %(inTeam)s)' % w,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'credentials used within %(unused)s' % v,
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'percentunit',
            color: { mode: 'palette-classic' },
            custom: {
              drawStyle: 'line',
              lineWidth: 1,
              fillOpacity: 0,
              showPoints: 'never',
              spanNulls: false,
              axisPlacement: 'auto',
              axisSoftMin: 0,
              thresholdsStyle: { mode: 'off' },
            },
            thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] },
            mappings: [],
            decimals: 1,
            min: 0,
            max: 1,
          },
          overrides: [
            {
              matcher: { id: 'byName', options: 'access keys rotated within %(keyRotation)s' % v },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } }],
            },
            {
              matcher: { id: 'byName', options: 'console users with MFA' },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'purple' } }],
            },
            {
              matcher: { id: 'byName', options: 'credentials used within %(unused)s' % v },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'orange' } }],
            },
          ],
        },
        options: {
          legend: { displayMode: 'table', placement: 'right', showLegend: true, calcs: ['lastNotNull'] },
          tooltip: { mode: 'multi', sort: 'desc' },
        },
      },
      {
        id: 26,
        type: 'timeseries',
        title: 'Compliance, last 90 days',
        description: "The three shares above over the last 90 days, whatever the dashboard's time range (at most one point per 3h: the report changes every few hours at most).",
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 12, x: 12, y: 18 },
        timeFrom: '90d',
        hideTimeOverride: false,
        interval: '3h',
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'avg(%(keyRotated)s %(inTeam)s)' % w,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'access keys rotated within %(keyRotation)s' % v,
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'avg(%(consoleUserMFA)s %(inTeam)s)' % w,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'console users with MFA',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: 'avg(%(credentialUsed)s %(inTeam)s)' % w,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'credentials used within %(unused)s' % v,
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'percentunit',
            color: { mode: 'palette-classic' },
            custom: {
              drawStyle: 'line',
              lineWidth: 1,
              fillOpacity: 0,
              showPoints: 'never',
              spanNulls: false,
              axisPlacement: 'auto',
              axisSoftMin: 0,
              thresholdsStyle: { mode: 'off' },
            },
            thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] },
            mappings: [],
            decimals: 1,
            min: 0,
            max: 1,
          },
          overrides: [
            {
              matcher: { id: 'byName', options: 'access keys rotated within %(keyRotation)s' % v },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } }],
            },
            {
              matcher: { id: 'byName', options: 'console users with MFA' },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'purple' } }],
            },
            {
              matcher: { id: 'byName', options: 'credentials used within %(unused)s' % v },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'orange' } }],
            },
          ],
        },
        options: {
          legend: { displayMode: 'table', placement: 'right', showLegend: true, calcs: ['lastNotNull'] },
          tooltip: { mode: 'multi', sort: 'desc' },
        },
      },
      {
        id: 27,
        type: 'table',
        title: 'Worst accounts',
        description: 'The 10 selected accounts with the lowest share of the three (account:*:ratio rules), and each share. Empty: the account has no key or console user that the share counts.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 14, x: 0, y: 26 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'bottomk(10, min by (account_id) ({__name__=~"account:aws_iam_(access_keys_rotated|console_users_mfa|credentials_used):ratio",%(jobSel)s,account_id=~"$account_id"} >= 0)) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: '(max by (account_id) (account:aws_iam_access_keys_rotated:ratio{%(jobSel)s,account_id=~"$account_id"}) and on (account_id) bottomk(10, min by (account_id) ({__name__=~"account:aws_iam_(access_keys_rotated|console_users_mfa|credentials_used):ratio",%(jobSel)s,account_id=~"$account_id"} >= 0))) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: '(max by (account_id) (account:aws_iam_console_users_mfa:ratio{%(jobSel)s,account_id=~"$account_id"}) and on (account_id) bottomk(10, min by (account_id) ({__name__=~"account:aws_iam_(access_keys_rotated|console_users_mfa|credentials_used):ratio",%(jobSel)s,account_id=~"$account_id"} >= 0))) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'D',
            expr: '(max by (account_id) (account:aws_iam_credentials_used:ratio{%(jobSel)s,account_id=~"$account_id"}) and on (account_id) bottomk(10, min by (account_id) ({__name__=~"account:aws_iam_(access_keys_rotated|console_users_mfa|credentials_used):ratio",%(jobSel)s,account_id=~"$account_id"} >= 0))) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
        ],
        transformations: [
          { id: 'merge', options: {} },
          {
            id: 'organize',
            options: {
              excludeByName: { Time: true, job: true, instance: true },
              indexByName: { account_id: 0, name: 1, 'Value #A': 2, 'Value #B': 3, 'Value #C': 4, 'Value #D': 5 },
              renameByName: {},
            },
          },
        ],
        fieldConfig: {
          defaults: {
            custom: { align: 'auto', filterable: true, cellOptions: { type: 'auto' }, inspect: false },
            mappings: [],
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
          },
          overrides: [
            {
              matcher: { id: 'byName', options: 'account_id' },
              properties: [{ id: 'displayName', value: 'Account' }, { id: 'custom.width', value: 140 }],
            },
            {
              matcher: { id: 'byName', options: 'name' },
              properties: [{ id: 'displayName', value: 'Name' }],
            },
            {
              matcher: { id: 'byName', options: 'Value #A' },
              properties: [
                { id: 'displayName', value: 'Lowest share' },
                { id: 'unit', value: 'percentunit' },
                { id: 'decimals', value: 1 },
                { id: 'min', value: 0 },
                { id: 'max', value: 1 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'percentage',
                    steps: [
                      { color: 'red', value: null },
                      { color: 'yellow', value: 80 },
                      { color: 'green', value: 100 },
                    ],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #B' },
              properties: [
                { id: 'displayName', value: 'Keys rotated ≤ %(keyRotation)s' % v },
                { id: 'unit', value: 'percentunit' },
                { id: 'decimals', value: 1 },
                { id: 'min', value: 0 },
                { id: 'max', value: 1 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'percentage',
                    steps: [
                      { color: 'red', value: null },
                      { color: 'yellow', value: 80 },
                      { color: 'green', value: 100 },
                    ],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #C' },
              properties: [
                { id: 'displayName', value: 'Console users with MFA' },
                { id: 'unit', value: 'percentunit' },
                { id: 'decimals', value: 1 },
                { id: 'min', value: 0 },
                { id: 'max', value: 1 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'percentage',
                    steps: [
                      { color: 'red', value: null },
                      { color: 'yellow', value: 80 },
                      { color: 'green', value: 100 },
                    ],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #D' },
              properties: [
                { id: 'displayName', value: 'Used ≤ %(unused)s' % v },
                { id: 'unit', value: 'percentunit' },
                { id: 'decimals', value: 1 },
                { id: 'min', value: 0 },
                { id: 'max', value: 1 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'percentage',
                    steps: [
                      { color: 'red', value: null },
                      { color: 'yellow', value: 80 },
                      { color: 'green', value: 100 },
                    ],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
          ],
        },
        options: {
          showHeader: true,
          cellHeight: 'sm',
          footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
          sortBy: [{ displayName: 'Lowest share', desc: false }],
        },
      },
      {
        id: 28,
        type: 'table',
        title: 'Worst teams',
        description: 'The 10 teams (owner:*:ratio rules, over every account the rules see) with the lowest share of the three, each share, and their firing credential alerts (owner_severity:aws_iam_credential_findings:count). (none): the users without that tag, on the user or its account. Filtered by team, not by job or account.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 10, x: 14, y: 26 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'label_replace(label_replace(bottomk(10, min by (tag_owner, tag_team) ({%(clusterSel)s__name__=~"owner:aws_iam_(access_keys_rotated|console_users_mfa|credentials_used):ratio",tag_team=~"$team"} >= 0)), "tag_team", "(none)", "tag_team", ""), "tag_owner", "(none)", "tag_owner", "")' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'label_replace(label_replace(max by (tag_owner, tag_team) (owner:aws_iam_access_keys_rotated:ratio{%(clusterSel)stag_team=~"$team"}) and on (tag_owner, tag_team) bottomk(10, min by (tag_owner, tag_team) ({%(clusterSel)s__name__=~"owner:aws_iam_(access_keys_rotated|console_users_mfa|credentials_used):ratio",tag_team=~"$team"} >= 0)), "tag_team", "(none)", "tag_team", ""), "tag_owner", "(none)", "tag_owner", "")' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: 'label_replace(label_replace(max by (tag_owner, tag_team) (owner:aws_iam_console_users_mfa:ratio{%(clusterSel)stag_team=~"$team"}) and on (tag_owner, tag_team) bottomk(10, min by (tag_owner, tag_team) ({%(clusterSel)s__name__=~"owner:aws_iam_(access_keys_rotated|console_users_mfa|credentials_used):ratio",tag_team=~"$team"} >= 0)), "tag_team", "(none)", "tag_team", ""), "tag_owner", "(none)", "tag_owner", "")' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'D',
            expr: 'label_replace(label_replace(max by (tag_owner, tag_team) (owner:aws_iam_credentials_used:ratio{%(clusterSel)stag_team=~"$team"}) and on (tag_owner, tag_team) bottomk(10, min by (tag_owner, tag_team) ({%(clusterSel)s__name__=~"owner:aws_iam_(access_keys_rotated|console_users_mfa|credentials_used):ratio",tag_team=~"$team"} >= 0)), "tag_team", "(none)", "tag_team", ""), "tag_owner", "(none)", "tag_owner", "")' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'E',
            expr: 'label_replace(label_replace(sum by (tag_owner, tag_team) (owner_severity:aws_iam_credential_findings:count{%(clusterSel)stag_team=~"$team"}) and on (tag_owner, tag_team) bottomk(10, min by (tag_owner, tag_team) ({%(clusterSel)s__name__=~"owner:aws_iam_(access_keys_rotated|console_users_mfa|credentials_used):ratio",tag_team=~"$team"} >= 0)), "tag_team", "(none)", "tag_team", ""), "tag_owner", "(none)", "tag_owner", "")' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
        ],
        transformations: [
          { id: 'merge', options: {} },
          {
            id: 'organize',
            options: {
              excludeByName: { Time: true, job: true, instance: true },
              indexByName: {
                tag_team: 0,
                tag_owner: 1,
                'Value #A': 2,
                'Value #B': 3,
                'Value #C': 4,
                'Value #D': 5,
                'Value #E': 6,
              },
              renameByName: {},
            },
          },
        ],
        fieldConfig: {
          defaults: {
            custom: { align: 'auto', filterable: true, cellOptions: { type: 'auto' }, inspect: false },
            mappings: [],
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
          },
          overrides: [
            {
              matcher: { id: 'byName', options: 'tag_team' },
              properties: [
                { id: 'displayName', value: 'Team' },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'special',
                      options: { match: 'null', result: { text: '(none)', index: 0 } },
                    },
                    {
                      type: 'special',
                      options: { match: 'empty', result: { text: '(none)', index: 1 } },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'tag_owner' },
              properties: [
                { id: 'displayName', value: 'Owner' },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'special',
                      options: { match: 'null', result: { text: '(none)', index: 0 } },
                    },
                    {
                      type: 'special',
                      options: { match: 'empty', result: { text: '(none)', index: 1 } },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #A' },
              properties: [
                { id: 'displayName', value: 'Lowest share' },
                { id: 'unit', value: 'percentunit' },
                { id: 'decimals', value: 1 },
                { id: 'min', value: 0 },
                { id: 'max', value: 1 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'percentage',
                    steps: [
                      { color: 'red', value: null },
                      { color: 'yellow', value: 80 },
                      { color: 'green', value: 100 },
                    ],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #B' },
              properties: [
                { id: 'displayName', value: 'Keys rotated ≤ %(keyRotation)s' % v },
                { id: 'unit', value: 'percentunit' },
                { id: 'decimals', value: 1 },
                { id: 'min', value: 0 },
                { id: 'max', value: 1 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'percentage',
                    steps: [
                      { color: 'red', value: null },
                      { color: 'yellow', value: 80 },
                      { color: 'green', value: 100 },
                    ],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #C' },
              properties: [
                { id: 'displayName', value: 'Console users with MFA' },
                { id: 'unit', value: 'percentunit' },
                { id: 'decimals', value: 1 },
                { id: 'min', value: 0 },
                { id: 'max', value: 1 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'percentage',
                    steps: [
                      { color: 'red', value: null },
                      { color: 'yellow', value: 80 },
                      { color: 'green', value: 100 },
                    ],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #D' },
              properties: [
                { id: 'displayName', value: 'Used ≤ %(unused)s' % v },
                { id: 'unit', value: 'percentunit' },
                { id: 'decimals', value: 1 },
                { id: 'min', value: 0 },
                { id: 'max', value: 1 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'percentage',
                    steps: [
                      { color: 'red', value: null },
                      { color: 'yellow', value: 80 },
                      { color: 'green', value: 100 },
                    ],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #E' },
              properties: [{ id: 'displayName', value: 'Findings' }, { id: 'decimals', value: 0 }],
            },
          ],
        },
        options: {
          showHeader: true,
          cellHeight: 'sm',
          footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
          sortBy: [{ displayName: 'Lowest share', desc: false }],
        },
      },
      {
        id: 29,
        type: 'row',
        title: 'Findings and exemptions',
        collapsed: false,
        panels: [],
        gridPos: { h: 1, w: 24, x: 0, y: 34 },
      },
      {
        id: 30,
        type: 'stat',
        title: 'Findings by severity',
        description: 'Firing credential alerts of the selected accounts by severity (account_severity:aws_iam_credential_findings:count). Exempt findings do not fire. Per account, not per team.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 8, x: 0, y: 35 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'sum(account_severity:aws_iam_credential_findings:count{%(clusterSel)saccount_id=~"$account_id",severity="%(severity)s"}) or vector(0)' % (v { severity: v.severities.critical }),
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: v.severities.critical,
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'sum(account_severity:aws_iam_credential_findings:count{%(clusterSel)saccount_id=~"$account_id",severity="%(severity)s"}) or vector(0)' % (v { severity: v.severities.warning }),
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: v.severities.warning,
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: 'sum(account_severity:aws_iam_credential_findings:count{%(clusterSel)saccount_id=~"$account_id",severity="%(severity)s"}) or vector(0)' % (v { severity: v.severities.info }),
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: v.severities.info,
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] },
            mappings: [],
          },
          overrides: [
            {
              matcher: { id: 'byName', options: v.severities.critical },
              properties: [
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }],
                  },
                },
              ],
            },
            {
              matcher: { id: 'byName', options: v.severities.warning },
              properties: [
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [{ color: 'green', value: null }, { color: 'orange', value: 1 }],
                  },
                },
              ],
            },
            {
              matcher: { id: 'byName', options: v.severities.info },
              properties: [
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [{ color: 'green', value: null }, { color: 'blue', value: 1 }],
                  },
                },
              ],
            },
          ],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'horizontal',
          textMode: 'value_and_name',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 31,
        type: 'stat',
        title: 'Violating and exempt',
        description: 'Violating: firing credential alerts (category="credential"). Exempt: findings whose alert condition holds but that an active exemption of the user for that policy (aws_iam_user_exemption_end_timestamp_seconds > time()) quiets; one per key, or per user for the user-level policies. Filtered by team.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 8, x: 8, y: 35 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(ALERTS{%(clusterSel)salertstate="firing",category="credential",account_id=~"$account_id",tag_team=~"$team"}) or vector(0)' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: 'violating',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'count((label_replace(%(keyAgeNotRoot)s > %(keyRotationDueDays)s * 86400, "policy", "key-rotation", "", "") or label_replace(%(keyIdleNotRoot)s >= %(unusedDays)s * 86400, "policy", "key-unused", "", "") or label_replace(%(passwordIdleNotRoot)s >= %(unusedDays)s * 86400, "policy", "password-unused", "", "") or label_replace(aws_iam_user_mfa_active{%(jobSel)s,account_id=~"$account_id",user!="<root_account>"} == 0 and aws_iam_user_password_enabled{%(jobSel)s,account_id=~"$account_id"} == 1, "policy", "console-mfa", "", "") or label_replace(time() - account_user:aws_iam_access_key_newer_created_timestamp_seconds{%(jobSel)s,account_id=~"$account_id"} > %(rotationIncompleteDays)s * 86400 or max without (key) (account_user_key:aws_iam_access_key_used_after_rotation_seconds{%(jobSel)s,account_id=~"$account_id"} > %(oldKeyGraceSeconds)s), "policy", "two-active-keys", "", "") or label_replace(%(keyUnusedNotRoot)s > %(inactiveKeyDays)s * 86400 and aws_iam_access_key_active{%(jobSel)s,account_id=~"$account_id"} == 0, "policy", "inactive-key", "", "")) and on (account_id, user, policy) (aws_iam_user_exemption_end_timestamp_seconds{%(jobSel)s,account_id=~"$account_id"} > time()) %(inTeam)s) or vector(0)' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: 'exempt',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
            mappings: [],
          },
          overrides: [
            {
              matcher: { id: 'byName', options: 'violating' },
              properties: [
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [{ color: 'green', value: null }, { color: 'red', value: 1 }],
                  },
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'exempt' },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } }],
            },
          ],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'horizontal',
          textMode: 'value_and_name',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 32,
        type: 'stat',
        title: 'Malformed exemption tags',
        description: "iam-credential-exemption:* user tags that exempt nothing (unknown policy, no YYYY-MM-DD/YYYY-MM-DD dates, no reason, or a span over --exemptions.max-days): aws_iam_user_exemption_invalid. The exporter's log names each; alert IAMCredentialExemptionInvalid tells the user's team. 0 when there are none or the exporter runs without --aws.exemptions.",
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 8, x: 16, y: 35 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(aws_iam_user_exemption_invalid{%(jobSel)s,account_id=~"$account_id"}) or vector(0)' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '__auto',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: {
              mode: 'absolute',
              steps: [{ color: 'green', value: null }, { color: 'orange', value: 1 }],
            },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'background',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'auto',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 33,
        type: 'timeseries',
        title: 'Findings by severity over time',
        description: 'Firing credential alerts of the selected accounts by severity (account_severity:aws_iam_credential_findings:count).',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 12, x: 0, y: 39 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'sum by (severity) (account_severity:aws_iam_credential_findings:count{%(clusterSel)saccount_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: '{{severity}}',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            color: { mode: 'palette-classic' },
            custom: {
              drawStyle: 'line',
              lineWidth: 1,
              fillOpacity: 0,
              showPoints: 'never',
              spanNulls: false,
              axisPlacement: 'auto',
              axisSoftMin: 0,
              thresholdsStyle: { mode: 'off' },
            },
            thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] },
            mappings: [],
            decimals: 0,
          },
          overrides: [
            {
              matcher: { id: 'byName', options: v.severities.critical },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }],
            },
            {
              matcher: { id: 'byName', options: v.severities.warning },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'orange' } }],
            },
            {
              matcher: { id: 'byName', options: v.severities.info },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } }],
            },
          ],
        },
        options: {
          legend: { displayMode: 'table', placement: 'right', showLegend: true, calcs: ['lastNotNull'] },
          tooltip: { mode: 'multi', sort: 'desc' },
        },
      },
      {
        id: 34,
        type: 'timeseries',
        title: 'Violating and exempt over time',
        description: 'As the stat Violating and exempt, over time. Filtered by team.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 12, x: 12, y: 39 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(ALERTS{%(clusterSel)salertstate="firing",category="credential",account_id=~"$account_id",tag_team=~"$team"}) or vector(0)' % v,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'violating',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'count((label_replace(%(keyAgeNotRoot)s > %(keyRotationDueDays)s * 86400, "policy", "key-rotation", "", "") or label_replace(%(keyIdleNotRoot)s >= %(unusedDays)s * 86400, "policy", "key-unused", "", "") or label_replace(%(passwordIdleNotRoot)s >= %(unusedDays)s * 86400, "policy", "password-unused", "", "") or label_replace(aws_iam_user_mfa_active{%(jobSel)s,account_id=~"$account_id",user!="<root_account>"} == 0 and aws_iam_user_password_enabled{%(jobSel)s,account_id=~"$account_id"} == 1, "policy", "console-mfa", "", "") or label_replace(time() - account_user:aws_iam_access_key_newer_created_timestamp_seconds{%(jobSel)s,account_id=~"$account_id"} > %(rotationIncompleteDays)s * 86400 or max without (key) (account_user_key:aws_iam_access_key_used_after_rotation_seconds{%(jobSel)s,account_id=~"$account_id"} > %(oldKeyGraceSeconds)s), "policy", "two-active-keys", "", "") or label_replace(%(keyUnusedNotRoot)s > %(inactiveKeyDays)s * 86400 and aws_iam_access_key_active{%(jobSel)s,account_id=~"$account_id"} == 0, "policy", "inactive-key", "", "")) and on (account_id, user, policy) (aws_iam_user_exemption_end_timestamp_seconds{%(jobSel)s,account_id=~"$account_id"} > time()) %(inTeam)s) or vector(0)' % w,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'exempt',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            color: { mode: 'palette-classic' },
            custom: {
              drawStyle: 'line',
              lineWidth: 1,
              fillOpacity: 0,
              showPoints: 'never',
              spanNulls: false,
              axisPlacement: 'auto',
              axisSoftMin: 0,
              thresholdsStyle: { mode: 'off' },
            },
            thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] },
            mappings: [],
            decimals: 0,
          },
          overrides: [
            {
              matcher: { id: 'byName', options: 'violating' },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }],
            },
            {
              matcher: { id: 'byName', options: 'exempt' },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } }],
            },
          ],
        },
        options: {
          legend: { displayMode: 'table', placement: 'right', showLegend: true, calcs: ['lastNotNull'] },
          tooltip: { mode: 'multi', sort: 'desc' },
        },
      },
      {
        id: 35,
        type: 'table',
        title: 'Active exemptions',
        description: 'Exemptions in force (--aws.exemptions): the user tag iam-credential-exemption:<policy> = "YYYY-MM-DD reason". Exempt through: the tag\'s date, the last day of the exemption (UTC). Days left: until it ends at midnight UTC after that date (yellow within %(exemptionNotice)s: alert IAMCredentialExemptionEnding). Filtered by team.' % v,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 24, x: 0, y: 47 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: '(max by (account_id, user, policy, reason) (aws_iam_user_exemption_end_timestamp_seconds{%(jobSel)s,account_id=~"$account_id"} > time()) - 86400) * 1000 %(withOwner)s * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'max by (account_id, user, policy, reason) (aws_iam_user_exemption_end_timestamp_seconds{%(jobSel)s,account_id=~"$account_id"} - time() > 0) / 86400 %(withOwner)s * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
        ],
        transformations: [
          { id: 'merge', options: {} },
          {
            id: 'organize',
            options: {
              excludeByName: { Time: true, job: true, instance: true },
              indexByName: {
                account_id: 0,
                name: 1,
                user: 2,
                tag_team: 3,
                tag_owner: 4,
                policy: 5,
                reason: 6,
                'Value #A': 7,
                'Value #B': 8,
              },
              renameByName: {},
            },
          },
        ],
        fieldConfig: {
          defaults: {
            custom: { align: 'auto', filterable: true, cellOptions: { type: 'auto' }, inspect: false },
            mappings: [],
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
          },
          overrides: [
            {
              matcher: { id: 'byName', options: 'account_id' },
              properties: [{ id: 'displayName', value: 'Account' }, { id: 'custom.width', value: 140 }],
            },
            {
              matcher: { id: 'byName', options: 'name' },
              properties: [{ id: 'displayName', value: 'Name' }],
            },
            {
              matcher: { id: 'byName', options: 'user' },
              properties: [
                { id: 'displayName', value: 'User' },
                {
                  id: 'links',
                  value: [
                    {
                      title: 'Open ${__value.raw} in the user drill-down',
                      url: '/d/%(uidPrefix)suser?${__url_time_range}&${datasource:queryparam}%(urlVars)s&var-user=${__value.raw}' % v,
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'tag_team' },
              properties: [
                { id: 'displayName', value: 'Team' },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'special',
                      options: { match: 'null', result: { text: '(none)', index: 0 } },
                    },
                    {
                      type: 'special',
                      options: { match: 'empty', result: { text: '(none)', index: 1 } },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'tag_owner' },
              properties: [
                { id: 'displayName', value: 'Owner' },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'special',
                      options: { match: 'null', result: { text: '(none)', index: 0 } },
                    },
                    {
                      type: 'special',
                      options: { match: 'empty', result: { text: '(none)', index: 1 } },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'policy' },
              properties: [{ id: 'displayName', value: 'Policy' }],
            },
            {
              matcher: { id: 'byName', options: 'reason' },
              properties: [{ id: 'displayName', value: 'Reason' }],
            },
            {
              matcher: { id: 'byName', options: 'Value #A' },
              properties: [
                { id: 'displayName', value: 'Exempt through (UTC)' },
                { id: 'unit', value: 'time:YYYY-MM-DD' },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #B' },
              properties: [
                { id: 'displayName', value: 'Days left' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 1 },
                {
                  id: 'thresholds',
                  value: {
                    mode: 'absolute',
                    steps: [
                      { color: 'yellow', value: null },
                      { color: 'green', value: v.exemptionNoticeDays },
                    ],
                  },
                },
                { id: 'color', value: { mode: 'thresholds' } },
                { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
              ],
            },
          ],
        },
        options: {
          showHeader: true,
          cellHeight: 'sm',
          footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
          sortBy: [{ displayName: 'Days left', desc: false }],
        },
      },
      {
        id: 36,
        type: 'table',
        title: 'Console users without MFA',
        description: 'IAM users with a console password and no MFA device (alert IAMCredentialConsoleUserWithoutMFA, unless exempt). Password last used: days since the last sign-in, empty when never. Exempt through: the last day of an active console-mfa exemption. Filtered by team.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 24, x: 0, y: 55 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'max by (account_id, user) (aws_iam_user_mfa_active{%(jobSel)s,account_id=~"$account_id",user!="<root_account>"} == 0 and aws_iam_user_password_enabled{%(jobSel)s,account_id=~"$account_id",user!="<root_account>"} == 1) %(withOwner)s * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'max by (account_id, user) (time() - aws_iam_user_password_last_used_timestamp_seconds{%(jobSel)s,account_id=~"$account_id"} and on (account_id, user) (aws_iam_user_mfa_active{%(jobSel)s,account_id=~"$account_id",user!="<root_account>"} == 0 and aws_iam_user_password_enabled{%(jobSel)s,account_id=~"$account_id",user!="<root_account>"} == 1)) / 86400 %(withOwner)s * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: '(max by (account_id, user) (aws_iam_user_exemption_end_timestamp_seconds{%(jobSel)s,account_id=~"$account_id",policy="console-mfa"} > time() and on (account_id, user) (aws_iam_user_mfa_active{%(jobSel)s,account_id=~"$account_id",user!="<root_account>"} == 0 and aws_iam_user_password_enabled{%(jobSel)s,account_id=~"$account_id",user!="<root_account>"} == 1)) - 86400) * 1000 %(withOwner)s * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
        ],
        transformations: [
          { id: 'merge', options: {} },
          {
            id: 'organize',
            options: {
              excludeByName: { Time: true, job: true, instance: true, 'Value #A': true },
              indexByName: {
                account_id: 0,
                name: 1,
                user: 2,
                tag_team: 3,
                tag_owner: 4,
                'Value #B': 5,
                'Value #C': 6,
              },
              renameByName: {},
            },
          },
        ],
        fieldConfig: {
          defaults: {
            custom: { align: 'auto', filterable: true, cellOptions: { type: 'auto' }, inspect: false },
            mappings: [],
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
          },
          overrides: [
            {
              matcher: { id: 'byName', options: 'account_id' },
              properties: [{ id: 'displayName', value: 'Account' }, { id: 'custom.width', value: 140 }],
            },
            {
              matcher: { id: 'byName', options: 'name' },
              properties: [{ id: 'displayName', value: 'Name' }],
            },
            {
              matcher: { id: 'byName', options: 'user' },
              properties: [
                { id: 'displayName', value: 'User' },
                {
                  id: 'links',
                  value: [
                    {
                      title: 'Open ${__value.raw} in the user drill-down',
                      url: '/d/%(uidPrefix)suser?${__url_time_range}&${datasource:queryparam}%(urlVars)s&var-user=${__value.raw}' % v,
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'tag_team' },
              properties: [
                { id: 'displayName', value: 'Team' },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'special',
                      options: { match: 'null', result: { text: '(none)', index: 0 } },
                    },
                    {
                      type: 'special',
                      options: { match: 'empty', result: { text: '(none)', index: 1 } },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'tag_owner' },
              properties: [
                { id: 'displayName', value: 'Owner' },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'special',
                      options: { match: 'null', result: { text: '(none)', index: 0 } },
                    },
                    {
                      type: 'special',
                      options: { match: 'empty', result: { text: '(none)', index: 1 } },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #B' },
              properties: [
                { id: 'displayName', value: 'Password last used (days ago)' },
                { id: 'unit', value: 'none' },
                { id: 'decimals', value: 1 },
              ],
            },
            {
              matcher: { id: 'byName', options: 'Value #C' },
              properties: [
                { id: 'displayName', value: 'Exempt through (UTC)' },
                { id: 'unit', value: 'time:YYYY-MM-DD' },
              ],
            },
          ],
        },
        options: {
          showHeader: true,
          cellHeight: 'sm',
          footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
          sortBy: [{ displayName: 'Password last used (days ago)', desc: true }],
        },
      },
      {
        id: 12,
        type: 'row',
        title: 'Access keys',
        collapsed: false,
        panels: [],
        gridPos: { h: 1, w: 24, x: 0, y: 63 },
      },
      {
        id: 13,
        type: 'bargauge',
        title: 'Active access keys by age',
        description: 'Active access keys by days since creation or last rotation, root keys included. Filtered by team.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 8, x: 0, y: 64 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id, user, key) (%(keyAge)s <= %(keyAgeFirstBucketDays)s * 86400 %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '0-%(keyAgeFirstBucketDays)s days' % v,
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'count(count by (account_id, user, key) (%(keyAge)s > %(keyAgeFirstBucketDays)s * 86400 <= %(keyRotationDueDays)s * 86400 %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '%(keyAgeMiddleFirstDay)s-%(keyRotationDueDays)s days' % v,
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: 'count(count by (account_id, user, key) (%(keyAge)s > %(keyRotationDueDays)s * 86400 <= %(keyRotationDays)s * 86400 %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: '%(keyAgeDueFirstDay)s-%(keyRotationDays)s days (rotation due)' % v,
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'D',
            expr: 'count(count by (account_id, user, key) (%(keyAge)s > %(keyRotationDays)s * 86400 %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: true,
            range: false,
            legendFormat: 'over %(keyRotation)s' % v,
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            min: 0,
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'blue', value: null }] },
            mappings: [],
          },
          overrides: [
            {
              matcher: { id: 'byName', options: '0-%(keyAgeFirstBucketDays)s days' % v },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'green' } }],
            },
            {
              matcher: { id: 'byName', options: '%(keyAgeMiddleFirstDay)s-%(keyRotationDueDays)s days' % v },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'green' } }],
            },
            {
              matcher: {
                id: 'byName',
                options: '%(keyAgeDueFirstDay)s-%(keyRotationDays)s days (rotation due)' % v,
              },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'yellow' } }],
            },
            {
              matcher: { id: 'byName', options: 'over %(keyRotation)s' % v },
              properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }],
            },
          ],
        },
        options: {
          orientation: 'horizontal',
          displayMode: 'basic',
          showUnfilled: true,
          valueMode: 'color',
          namePlacement: 'auto',
          sizing: 'auto',
          minVizHeight: 16,
          minVizWidth: 8,
          maxVizHeight: 300,
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          legend: { showLegend: false, displayMode: 'list', placement: 'bottom', calcs: [] },
        },
      },
      {
        id: 14,
        type: 'timeseries',
        title: 'Policy findings over time',
        description: 'How many credentials break each policy: the conditions of the alerts, exemptions aside. Filtered by team, except the root keys.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 16, x: 8, y: 64 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'count(count by (account_id, user, key) (%(keyAgeNotRoot)s > %(keyRotationDays)s * 86400 %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'access keys over %(keyRotation)s' % v,
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'B',
            expr: 'count(count by (account_id, user, key) (%(keyIdleNotRoot)s >= %(unusedDays)s * 86400 %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'access keys unused %(unusedDays)s+ days' % v,
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'C',
            expr: 'count(count by (account_id, user) (%(passwordIdleNotRoot)s >= %(unusedDays)s * 86400 %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'passwords unused %(unusedDays)s+ days' % v,
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'D',
            expr: 'count(count by (account_id, user) (aws_iam_user_mfa_active{%(jobSel)s,account_id=~"$account_id",user!="<root_account>"} == 0 and aws_iam_user_password_enabled{%(jobSel)s,account_id=~"$account_id",user!="<root_account>"} == 1 %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'console users without MFA',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'E',
            expr: 'count(count by (account_id, user) ((time() - account_user:aws_iam_access_key_newer_created_timestamp_seconds{%(jobSel)s,account_id=~"$account_id"} > %(rotationIncompleteDays)s * 86400 or max without (key) (account_user_key:aws_iam_access_key_used_after_rotation_seconds{%(jobSel)s,account_id=~"$account_id"} > %(oldKeyGraceSeconds)s)) %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'rotations left half-done (two active keys)',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'F',
            expr: 'count(count by (account_id, key) (aws_iam_access_key_active{%(jobSel)s,account_id=~"$account_id",user="<root_account>"} == 1)) or vector(0)' % v,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'active root keys',
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'G',
            expr: 'count(count by (account_id, user, key) (%(keyUnusedNotRoot)s > %(inactiveKeyDays)s * 86400 and aws_iam_access_key_active{%(jobSel)s,account_id=~"$account_id"} == 0 %(inTeam)s)) or vector(0)' % w,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: 'inactive keys unused %(inactiveKeyDays)s+ days' % v,
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            color: { mode: 'palette-classic' },
            custom: {
              drawStyle: 'line',
              lineWidth: 1,
              fillOpacity: 0,
              showPoints: 'never',
              spanNulls: false,
              axisPlacement: 'auto',
              axisSoftMin: 0,
              thresholdsStyle: { mode: 'off' },
            },
            thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] },
            mappings: [],
            decimals: 0,
          },
          overrides: [],
        },
        options: {
          legend: { displayMode: 'table', placement: 'right', showLegend: true, calcs: ['lastNotNull'] },
          tooltip: { mode: 'multi', sort: 'desc' },
        },
      },
      {
        id: 15,
        type: 'row',
        title: 'Report and exporter',
        collapsed: false,
        panels: [],
        gridPos: { h: 1, w: 24, x: 0, y: 72 },
      },
      {
        id: 16,
        type: 'timeseries',
        title: 'Credential report age',
        description: 'Age of the cached credential report per account. AWS rebuilds it at most every 4 hours; IAMCredentialReportStale fires over %(reportAge)s.' % v,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 10, x: 4, y: 73 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'max by (account_id) (account:aws_iam_credential_report_age_seconds{%(jobSel)s,account_id=~"$account_id"}) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: '{{account_id}} {{name}}',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 's',
            color: { mode: 'palette-classic' },
            custom: {
              drawStyle: 'line',
              lineWidth: 1,
              fillOpacity: 0,
              showPoints: 'never',
              spanNulls: false,
              axisPlacement: 'auto',
              axisSoftMin: 0,
              thresholdsStyle: { mode: 'line' },
            },
            thresholds: {
              mode: 'absolute',
              steps: [{ color: 'green', value: null }, { color: 'red', value: v.reportAgeSeconds }],
            },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          legend: { displayMode: 'table', placement: 'right', showLegend: true, calcs: ['lastNotNull'] },
          tooltip: { mode: 'multi', sort: 'desc' },
        },
      },
      {
        id: 17,
        type: 'timeseries',
        title: 'Refresh duration',
        description: "How long the last refresh of each account's report took.",
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 10, x: 14, y: 73 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'max by (account_id) (iam_credential_exporter_refresh_duration_seconds{%(jobSel)s,account_id=~"$account_id"}) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s,account_id=~"$account_id"})' % v,
            editorMode: 'code',
            instant: false,
            range: true,
            legendFormat: '{{account_id}} {{name}}',
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 's',
            color: { mode: 'palette-classic' },
            custom: {
              drawStyle: 'line',
              lineWidth: 1,
              fillOpacity: 0,
              showPoints: 'never',
              spanNulls: false,
              axisPlacement: 'auto',
              axisSoftMin: 0,
              thresholdsStyle: { mode: 'off' },
            },
            thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          legend: { displayMode: 'table', placement: 'right', showLegend: true, calcs: ['lastNotNull'] },
          tooltip: { mode: 'multi', sort: 'desc' },
        },
      },
      {
        id: 19,
        type: 'stat',
        title: 'Exporter shards',
        description: 'Shards (--total-shards) of the selected jobs, and how many of them an up replica serves: distinct --shard values among the targets that are up. Fewer up than total: the accounts of the missing shards are not read (alert IAMCredentialExporterShardMissing). A single exporter without sharding shows 1 of 1.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 4, x: 0, y: 73 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            editorMode: 'code',
            instant: true,
            range: false,
            refId: 'A',
            legendFormat: 'total',
            expr: 'sum(max by (%(jobBy)s) (iam_credential_exporter_total_shards{%(jobSel)s}))' % v,
          },
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            editorMode: 'code',
            instant: true,
            range: false,
            refId: 'B',
            legendFormat: 'up',
            expr: 'count(count_values by (%(jobBy)s) ("shard", iam_credential_exporter_shard_ordinal{%(jobSel)s} and on (%(target)s) (up == 1))) or vector(0)' % v,
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'fixed', fixedColor: 'text' },
            thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
            mappings: [],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'value',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'horizontal',
          textMode: 'value_and_name',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 20,
        type: 'stat',
        title: 'Account discovery',
        description: "Outcome of the last AWS Organizations account listing (--aws.organization) of the selected exporters: ok, or failing when any exporter's last listing failed (it keeps the previous account list; alert IAMCredentialAccountDiscoveryFailing after %(discoveryFailing)s). Off: no exporter runs discovery." % v,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 4, w: 4, x: 0, y: 77 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            editorMode: 'code',
            instant: true,
            range: false,
            refId: 'A',
            legendFormat: '__auto',
            expr: 'min(iam_credential_exporter_account_discovery_success{%(jobSel)s}) or -group(iam_credential_exporter_build_info{%(jobSel)s})' % v,
          },
        ],
        fieldConfig: {
          defaults: {
            unit: 'none',
            decimals: 0,
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
            mappings: [
              {
                type: 'value',
                options: {
                  '-1': { text: 'off', color: 'text', index: 0 },
                  '0': { text: 'failing', color: 'red', index: 1 },
                  '1': { text: 'ok', color: 'green', index: 2 },
                },
              },
            ],
          },
          overrides: [],
        },
        options: {
          reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          colorMode: 'value',
          graphMode: 'none',
          justifyMode: 'center',
          orientation: 'horizontal',
          textMode: 'value',
          wideLayout: true,
          showPercentChange: false,
        },
      },
      {
        id: 18,
        type: 'table',
        title: 'Firing IAM credential alerts',
        description: 'Alerts of alerts/iam_credential_exporter.rules.yml firing now, with the team and owner that the credential alerts carry. Alerts about an exporter rather than an account have no account, and no team: a team picked in the Team variable hides them.',
        datasource: { type: 'prometheus', uid: '${datasource}' },
        gridPos: { h: 8, w: 24, x: 0, y: 81 },
        targets: [
          {
            datasource: { type: 'prometheus', uid: '${datasource}' },
            refId: 'A',
            expr: 'sum by (alertname, severity, account_id, user, tag_team, tag_owner, key, cert) (ALERTS{%(clusterSel)salertname=~"IAMCredential.+",alertstate="firing",tag_team=~"$team"}) * on (account_id) group_left (name) topk by (account_id) (1, aws_iam_account_info{%(jobSel)s}) or on (account_id) sum by (alertname, severity, account_id, user, tag_team, tag_owner, key, cert) (ALERTS{%(clusterSel)salertname=~"IAMCredential.+",alertstate="firing",tag_team=~"$team"})' % v,
            editorMode: 'code',
            instant: true,
            range: false,
            format: 'table',
            legendFormat: '__auto',
          },
        ],
        transformations: [
          { id: 'merge', options: {} },
          {
            id: 'organize',
            options: {
              excludeByName: { Time: true, job: true, instance: true, Value: true },
              indexByName: {
                severity: 0,
                alertname: 1,
                account_id: 2,
                name: 3,
                user: 4,
                tag_team: 5,
                tag_owner: 6,
                key: 7,
                cert: 8,
              },
              renameByName: {},
            },
          },
        ],
        fieldConfig: {
          defaults: {
            custom: { align: 'auto', filterable: true, cellOptions: { type: 'auto' }, inspect: false },
            mappings: [],
            color: { mode: 'thresholds' },
            thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
          },
          overrides: [
            {
              matcher: { id: 'byName', options: 'alertname' },
              properties: [{ id: 'displayName', value: 'Alert' }],
            },
            {
              matcher: { id: 'byName', options: 'severity' },
              properties: [{ id: 'displayName', value: 'Severity' }, { id: 'custom.width', value: 90 }],
            },
            {
              matcher: { id: 'byName', options: 'account_id' },
              properties: [{ id: 'displayName', value: 'Account' }],
            },
            {
              matcher: { id: 'byName', options: 'name' },
              properties: [{ id: 'displayName', value: 'Name' }],
            },
            {
              matcher: { id: 'byName', options: 'user' },
              properties: [
                { id: 'displayName', value: 'User' },
                {
                  id: 'links',
                  value: [
                    {
                      title: 'Open ${__value.raw} in the user drill-down',
                      url: '/d/%(uidPrefix)suser?${__url_time_range}&${datasource:queryparam}%(urlVars)s&var-user=${__value.raw}' % v,
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'tag_team' },
              properties: [
                { id: 'displayName', value: 'Team' },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'special',
                      options: { match: 'null', result: { text: '(none)', index: 0 } },
                    },
                    {
                      type: 'special',
                      options: { match: 'empty', result: { text: '(none)', index: 1 } },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'tag_owner' },
              properties: [
                { id: 'displayName', value: 'Owner' },
                {
                  id: 'mappings',
                  value: [
                    {
                      type: 'special',
                      options: { match: 'null', result: { text: '(none)', index: 0 } },
                    },
                    {
                      type: 'special',
                      options: { match: 'empty', result: { text: '(none)', index: 1 } },
                    },
                  ],
                },
              ],
            },
            {
              matcher: { id: 'byName', options: 'key' },
              properties: [{ id: 'displayName', value: 'Key' }, { id: 'custom.width', value: 60 }],
            },
            {
              matcher: { id: 'byName', options: 'cert' },
              properties: [{ id: 'displayName', value: 'Cert' }, { id: 'custom.width', value: 60 }],
            },
          ],
        },
        options: {
          showHeader: true,
          cellHeight: 'sm',
          footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
          sortBy: [{ displayName: 'Severity', desc: false }],
        },
      },
    ],
  )
