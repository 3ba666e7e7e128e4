"""Encryption at rest (issue 11 §3): personal columns become SM4-GCM encrypted text, blind indexes and a
disability flag are added, and the two national registries are re-keyed by blind index.

Existing values stay readable as they are (a value without the ``E1:`` envelope is read as plaintext) until
``manage.py data_keys encrypt`` has encrypted them and filled the new columns; the registries are re-keyed here
because look-ups depend on it at once."""

from django.db import migrations, models

import xueji.core.fieldcrypto
import xueji.students.models


def rekey_registries(apps, schema_editor):
    from xueji.core.fieldcrypto import blind_index

    connection = schema_editor.connection
    quote = connection.ops.quote_name
    for table, column, purpose in (
        ("students_identitykey", "key", "students_identitykey.key"),
        ("students_studentnumber", "number", "students_studentnumber.number"),
    ):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {quote(column)} FROM {quote(table)}")  # noqa: S608
            legacy = [row[0] for row in cursor.fetchall() if len(row[0]) != 64]
            for old in legacy:
                new = blind_index(purpose, old.upper())
                cursor.execute(
                    f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE {quote(column)} = %s",  # noqa: S608
                    [new, old],
                )


class Migration(migrations.Migration):

    dependencies = [
        ('students', '0007_problem_checks'),
    ]

    operations = [
        migrations.AddField(
            model_name="person",
            name="id_check_failed",
            field=xueji.students.models.IdentityCheckFlag(),
        ),
        migrations.AddField(
            model_name='guardian',
            name='phone_bidx',
            field=xueji.core.fieldcrypto.BlindIndexField(db_index=True, normalise='digits', source='phone'),
        ),
        migrations.AddField(
            model_name='person',
            name='has_disability',
            field=xueji.core.fieldcrypto.FlagField(false_values=('', '0'), source='disability_type'),
        ),
        migrations.AddField(
            model_name='person',
            name='phone_bidx',
            field=xueji.core.fieldcrypto.BlindIndexField(db_index=True, normalise='digits', source='phone'),
        ),
        migrations.AddField(
            model_name='person',
            name='student_number_bidx',
            field=xueji.core.fieldcrypto.BlindIndexField(db_index=True, normalise='upper', source='student_number'),
        ),
        migrations.AlterField(
            model_name='enrollmentsnapshot',
            name='guardians',
            field=xueji.core.fieldcrypto.EncryptedJSONField(default=list, verbose_name='家庭成员（转出时）'),
        ),
        migrations.AlterField(
            model_name='enrollmentsnapshot',
            name='person',
            field=xueji.core.fieldcrypto.EncryptedJSONField(verbose_name='基础信息（转出时）'),
        ),
        migrations.AlterField(
            model_name='guardian',
            name='address',
            field=xueji.core.fieldcrypto.EncryptedCharField(max_length=200, verbose_name='现住址'),
        ),
        migrations.AlterField(
            model_name='guardian',
            name='id_number',
            field=xueji.core.fieldcrypto.EncryptedCharField(blank=True, max_length=20, verbose_name='身份证件号'),
        ),
        migrations.AlterField(
            model_name='guardian',
            name='phone',
            field=xueji.core.fieldcrypto.EncryptedCharField(max_length=20, verbose_name='联系电话'),
        ),
        migrations.AlterField(
            model_name='identitykey',
            name='key',
            field=models.CharField(max_length=64, primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name='person',
            name='current_address',
            field=xueji.core.fieldcrypto.EncryptedCharField(max_length=200, verbose_name='现住址'),
        ),
        migrations.AlterField(
            model_name='person',
            name='disability_type',
            field=xueji.core.fieldcrypto.EncryptedCharField(choices=[('0', '无残疾'), ('1', '视力残疾'), ('2', '听力残疾'), ('3', '言语残疾'), ('4', '肢体残疾'), ('5', '智力残疾'), ('6', '精神残疾'), ('7', '多重残疾'), ('8', '其他残疾')], default='0', max_length=1, verbose_name='残疾类型'),
        ),
        migrations.AlterField(
            model_name='person',
            name='health',
            field=xueji.core.fieldcrypto.EncryptedCharField(choices=[('10', '健康或良好'), ('20', '一般或较弱'), ('30', '有慢性病'), ('40', '有生理缺陷'), ('50', '残疾')], max_length=2, verbose_name='健康状况'),
        ),
        migrations.AlterField(
            model_name='person',
            name='home_address',
            field=xueji.core.fieldcrypto.EncryptedCharField(max_length=200, verbose_name='家庭地址'),
        ),
        migrations.AlterField(
            model_name='person',
            name='id_number',
            field=xueji.core.fieldcrypto.EncryptedCharField(blank=True, max_length=20, verbose_name='身份证件号'),
        ),
        migrations.AlterField(
            model_name='person',
            name='mailing_address',
            field=xueji.core.fieldcrypto.EncryptedCharField(max_length=200, verbose_name='通信地址'),
        ),
        migrations.AlterField(
            model_name='person',
            name='phone',
            field=xueji.core.fieldcrypto.EncryptedCharField(max_length=20, verbose_name='联系电话'),
        ),
        migrations.AlterField(
            model_name='person',
            name='student_number',
            field=xueji.core.fieldcrypto.EncryptedCharField(editable=False, max_length=19, verbose_name='学籍号'),
        ),
        migrations.AlterField(
            model_name='studentnumber',
            name='number',
            field=models.CharField(max_length=64, primary_key=True, serialize=False),
        ),
        migrations.RunPython(rekey_registries, migrations.RunPython.noop),
    ]
